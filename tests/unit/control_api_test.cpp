// The runs API (handle_control): every route and error class, the JSON
// → TOML conversion of inline rules, Go-style TTLs, and no token outside
// the 201 that creates a run.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <map>

#include "control/control_api.h"
#include "control/go_duration.h"
#include "control/json_to_toml.h"

namespace ferry {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

struct Api {
  std::map<std::string, std::string> live;  // run id → token, as the proxy would hold it
  std::optional<RunSpec> last_spec;
  RunRegistry registry{hooks()};
  ControlContext context;

  Api() { context.proxy_address = "127.0.0.1:3128"; }

  RunHooks hooks() {
    RunHooks h;
    h.make_profile = [this](const RunSpec& spec, const std::string& id) -> Expected<ProfilePtr> {
      if (spec.profile == "nope") return fail("profile: no [profiles.nope] in the configuration");
      last_spec = spec;
      auto p = std::make_shared<Profile>();
      p->id = "run:" + id;
      return ProfilePtr(p);
    };
    h.activated = [this](const ferry::Run& run, const std::string& token) { live[run.id] = token; };
    h.revoked = [this](const ferry::Run& run) { live.erase(run.id); };
    return h;
  }

  ControlResponse call(std::string_view method, std::string_view target, std::string_view body = {},
                       bool authorized = true) {
    return handle_control({method, target, body, authorized}, registry, context);
  }
};

json::object parse_object(const std::string& body) {
  json::value v = json::parse(body);
  EXPECT_TRUE(v.is_object()) << body;
  return v.is_object() ? v.get_object() : json::object();
}

std::string error_of(const ControlResponse& r) {
  auto o = parse_object(r.body);
  EXPECT_TRUE(o.contains("error")) << r.body;
  return o.contains("error") ? std::string(o.at("error").as_string()) : "";
}

std::string header(const ControlResponse& r, std::string_view name) {
  for (const auto& [n, v] : r.headers)
    if (n == name) return v;
  return "";
}

TEST(ControlApi, PostCreatesARunWithItsTokenProxyUrlAndEnv) {
  Api api;
  auto r = api.call("POST", "/v1/runs", R"({"profile": "ci", "ttl": "10m"})");
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_TRUE(r.holds_secret);
  EXPECT_EQ(r.content_type, "application/json");
  auto o = parse_object(r.body);
  const std::string id(o.at("id").as_string()), token(o.at("token").as_string());
  EXPECT_EQ(api.live.at(id), token);
  EXPECT_EQ(header(r, "Location"), "/v1/runs/" + id);
  EXPECT_EQ(o.at("proxy_url").as_string(), "http://run:" + token + "@127.0.0.1:3128");
  EXPECT_EQ(o.at("profile").as_string(), "ci");
  EXPECT_EQ(o.at("ttl").as_string(), "10m");
  const auto& env = o.at("env").as_object();
  for (const char* name : {"HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"})
    EXPECT_EQ(env.at(name).as_string(), o.at("proxy_url").as_string()) << name;
  EXPECT_EQ(env.at("NO_PROXY").as_string(), "localhost,127.0.0.1,::1");
  EXPECT_EQ(env.at("no_proxy").as_string(), "localhost,127.0.0.1,::1");
  // No interception, no SOCKS listener: no CA or ALL_PROXY variables.
  EXPECT_FALSE(env.contains("SSL_CERT_FILE"));
  EXPECT_FALSE(env.contains("ALL_PROXY"));
  EXPECT_EQ(env.size(), 6u);
  ASSERT_TRUE(api.last_spec);
  EXPECT_EQ(api.last_spec->profile, "ci");
  EXPECT_EQ(api.last_spec->ttl, Millis(10min));
  EXPECT_FALSE(api.last_spec->inject);
  EXPECT_FALSE(api.last_spec->policy);
}

TEST(ControlApi, EnvCarriesTheCaVariablesAndSocksWhenConfigured) {
  Api api;
  api.context.ca_dir = "/var/lib/ferry/ca";
  api.context.socks_address = "127.0.0.1:1080";
  api.context.no_proxy = "localhost,.corp";
  auto r = api.call("POST", "/v1/runs", R"({"profile": "ci"})");
  ASSERT_EQ(r.status, 201) << r.body;
  auto o = parse_object(r.body);
  const std::string token(o.at("token").as_string());
  const auto& env = o.at("env").as_object();
  for (const char* name : {"SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "GIT_SSL_CAINFO"})
    EXPECT_EQ(env.at(name).as_string(), "/var/lib/ferry/ca/bundle.pem") << name;
  EXPECT_EQ(env.at("NODE_EXTRA_CA_CERTS").as_string(), "/var/lib/ferry/ca/ca.pem");
  EXPECT_EQ(env.at("ALL_PROXY").as_string(), "socks5h://run:" + token + "@127.0.0.1:1080");
  EXPECT_EQ(env.at("NO_PROXY").as_string(), "localhost,.corp");
}

TEST(ControlApi, InlineInjectAndPolicyArriveAsToml) {
  Api api;
  auto r = api.call("POST", "/v1/runs", R"({
      "inject": [{"host": "api.github.com", "port": 443, "header": "Authorization",
                  "value": "Bearer ${env:GH}", "scrub_responses": true,
                  "substitute": {"placeholder": "sk-x", "value": "${file:/k}"}}],
      "policy": {"mode": "strict", "allow": ["api.github.com", "10.0.0.0/8:443"], "deny_private": true}})");
  ASSERT_EQ(r.status, 201) << r.body;
  ASSERT_TRUE(api.last_spec && api.last_spec->inject && api.last_spec->policy);
  EXPECT_EQ(parse_object(r.body).at("profile"), nullptr);
  const toml::array& inject = *api.last_spec->inject;
  ASSERT_EQ(inject.size(), 1u);
  const toml::table* rule = inject[0].as_table();
  ASSERT_NE(rule, nullptr);
  EXPECT_EQ((*rule)["host"].value<std::string>(), "api.github.com");
  EXPECT_EQ((*rule)["port"].value<int64_t>(), 443);
  EXPECT_EQ((*rule)["scrub_responses"].value<bool>(), true);
  EXPECT_EQ((*rule)["substitute"]["placeholder"].value<std::string>(), "sk-x");
  const toml::table& policy = *api.last_spec->policy;
  EXPECT_EQ(policy["mode"].value<std::string>(), "strict");
  ASSERT_TRUE(policy["allow"].is_array());
  EXPECT_EQ(policy["allow"][1].value<std::string>(), "10.0.0.0/8:443");
  EXPECT_EQ(policy["deny_private"].value<bool>(), true);
}

TEST(ControlApi, GetListsRunsWithoutTokens) {
  Api api;
  auto a = api.call("POST", "/v1/runs", R"({"profile": "a"})");
  auto b = api.call("POST", "/v1/runs", R"({"policy": {"mode": "strict"}, "ttl": 90})");
  ASSERT_EQ(a.status, 201);
  ASSERT_EQ(b.status, 201);
  auto list = api.call("GET", "/v1/runs");
  ASSERT_EQ(list.status, 200) << list.body;
  EXPECT_FALSE(list.holds_secret);
  const auto listed = parse_object(list.body);
  const auto& runs = listed.at("runs").as_array();
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_EQ(runs[0].at("profile").as_string(), "a");
  EXPECT_EQ(runs[1].at("profile"), nullptr);
  EXPECT_EQ(runs[1].at("ttl").as_string(), "90s");
  for (const auto& run : runs) {
    EXPECT_EQ(run.as_object().size(), 5u) << json::serialize(run);  // id, profile, created, expires, ttl
    EXPECT_EQ(run.at("created").as_string().size(), 20u);
  }
  for (const auto& [id, token] : api.live) EXPECT_EQ(list.body.find(token), std::string::npos);

  const std::string id(parse_object(a.body).at("id").as_string());
  auto one = api.call("GET", "/v1/runs/" + id + "?verbose=1");
  ASSERT_EQ(one.status, 200) << one.body;
  auto o = parse_object(one.body);
  EXPECT_EQ(o.at("id").as_string(), id);
  EXPECT_EQ(o.at("profile").as_string(), "a");
  EXPECT_EQ(one.body.find(api.live.at(id)), std::string::npos);
}

TEST(ControlApi, DeleteRevokesTheRun) {
  Api api;
  auto a = api.call("POST", "/v1/runs", R"({"profile": "a"})");
  const std::string id(parse_object(a.body).at("id").as_string());
  ASSERT_EQ(api.live.count(id), 1u);
  auto d = api.call("DELETE", "/v1/runs/" + id);
  EXPECT_EQ(d.status, 204);
  EXPECT_TRUE(d.body.empty());
  EXPECT_EQ(api.live.count(id), 0u);
  EXPECT_EQ(api.call("DELETE", "/v1/runs/" + id).status, 404);
  EXPECT_EQ(api.call("GET", "/v1/runs/" + id).status, 404);
  EXPECT_EQ(error_of(api.call("GET", "/v1/runs/../../etc")), "no such run");
}

TEST(ControlApi, UnknownPathsAreNotFound) {
  Api api;
  for (const char* target : {"/", "/v1", "/v1/run", "/v1/runsx", "/v2/runs", "v1/runs"}) {
    auto r = api.call("GET", target);
    EXPECT_EQ(r.status, 404) << target;
    EXPECT_FALSE(error_of(r).empty());
  }
}

TEST(ControlApi, WrongMethodsGet405WithAllow) {
  Api api;
  auto r = api.call("PUT", "/v1/runs", "{}");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(header(r, "Allow"), "GET, POST");
  EXPECT_FALSE(error_of(r).empty());
  r = api.call("POST", "/v1/runs/0123456789abcdef", "{}");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(header(r, "Allow"), "GET, DELETE");
  EXPECT_EQ(api.call("DELETE", "/v1/runs").status, 405);
}

TEST(ControlApi, UnauthorizedRequestsGet401AndChangeNothing) {
  Api api;
  auto r = api.call("POST", "/v1/runs", R"({"profile": "a"})", false);
  EXPECT_EQ(r.status, 401);
  EXPECT_NE(header(r, "WWW-Authenticate").find("Bearer"), std::string::npos);
  EXPECT_EQ(api.registry.size(), 0u);
  auto a = api.call("POST", "/v1/runs", R"({"profile": "a"})");
  const std::string id(parse_object(a.body).at("id").as_string());
  EXPECT_EQ(api.call("GET", "/v1/runs", {}, false).status, 401);
  EXPECT_EQ(api.call("GET", "/v1/runs/" + id, {}, false).status, 401);
  EXPECT_EQ(api.call("DELETE", "/v1/runs/" + id, {}, false).status, 401);
  EXPECT_EQ(api.registry.size(), 1u);
}

struct BadBody {
  const char* body;
  const char* names;  // what the error must mention
};

TEST(ControlApi, MalformedBodiesGet400NamingTheField) {
  const BadBody cases[] = {
      {"", "JSON"},
      {"{", "JSON"},
      {R"({"profile": "a",})", "JSON"},
      {R"({"profile": "a"} x)", "JSON"},
      {"[]", "object"},
      {"null", "object"},
      {"{}", "one of profile, inject and policy"},
      {R"({"ttl": "10m"})", "one of profile, inject and policy"},
      {R"({"profile": 7})", "profile"},
      {R"({"profile": ""})", "profile"},
      {R"({"profile": null})", "profile"},
      {R"({"profile": "a", "tokens": 1})", "unknown field 'tokens'"},
      {R"({"profile": "a", "Profile": "b"})", "unknown field 'Profile'"},
      {R"({"inject": {"host": "x"}})", "inject"},
      {R"({"inject": ["x"]})", "inject[0]"},
      {R"({"inject": [{"host": "x", "port": null}]})", "inject[0].port"},
      {R"({"inject": [{"host": "x", "port": 18446744073709551615}]})", "inject[0].port"},
      {R"({"policy": "strict"})", "policy"},
      {R"({"policy": {"allow": [null]}})", "policy.allow[0]"},
      {R"({"profile": "a", "ttl": "soon"})", "ttl"},
      {R"({"profile": "a", "ttl": "0s"})", "ttl"},
      {R"({"profile": "a", "ttl": 0})", "ttl"},
      {R"({"profile": "a", "ttl": -5})", "ttl"},
      {R"({"profile": "a", "ttl": 1.5})", "ttl"},
      {R"({"profile": "a", "ttl": "169h"})", "ttl"},
      {R"({"profile": "a", "ttl": 604801})", "ttl"},
      {R"({"profile": "a", "ttl": true})", "ttl"},
      {"{\"profile\": \"\xff\"}", "JSON"},
  };
  for (const auto& c : cases) {
    Api api;
    auto r = api.call("POST", "/v1/runs", c.body);
    EXPECT_EQ(r.status, 400) << c.body << " → " << r.body;
    EXPECT_NE(error_of(r).find(c.names), std::string::npos) << c.body << " → " << r.body;
    EXPECT_EQ(api.registry.size(), 0u) << c.body;
    EXPECT_FALSE(r.holds_secret);
  }
}

TEST(ControlApi, ErrorsNeverEchoValues) {
  Api api;
  auto r = api.call("POST", "/v1/runs", R"({"inject": [{"host": "x", "value": null, "header": "sk-SECRET"}]})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body.find("sk-SECRET"), std::string::npos) << r.body;
  r = api.call("POST", "/v1/runs", R"({"profile": "a", "ttl": 10, "extra": "sk-SECRET"})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body.find("sk-SECRET"), std::string::npos) << r.body;
}

// Found by fuzz_control_api: an unknown field's name is quoted in the
// error cut to 64 bytes, and a cut inside a UTF-8 sequence made the error
// body invalid JSON (and invalid UTF-8).
TEST(ControlApi, ALongUnknownFieldIsQuotedAsValidUtf8) {
  Api api;
  for (size_t pad = 0; pad < 4; ++pad) {
    std::string name(60 + pad, 'a');
    for (int i = 0; i < 4; ++i) name += "\u00e9\u4e16";  // 2- and 3-byte sequences
    auto r = api.call("POST", "/v1/runs", R"({")" + name + R"(": 1})");
    EXPECT_EQ(r.status, 400);
    json::error_code ec;
    auto v = json::parse(r.body, ec);
    ASSERT_FALSE(ec) << pad << ": " << r.body;
    EXPECT_NE(std::string(v.at("error").as_string()).find("unknown field 'aaaa"), std::string::npos);
  }
}

TEST(ControlApi, TheProfileHookRejectionIs400) {
  Api api;
  auto r = api.call("POST", "/v1/runs", R"({"profile": "nope"})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(error_of(r), "profile: no [profiles.nope] in the configuration");
}

TEST(ControlApi, OversizedBodiesGet413) {
  Api api;
  std::string big = R"({"profile": "a", "policy": {"allow": [)";
  while (big.size() <= kMaxControlBody) big += R"("a.example.com",)";
  big += R"("b"]}})";
  auto r = api.call("POST", "/v1/runs", big);
  EXPECT_EQ(r.status, 413);
  EXPECT_FALSE(error_of(r).empty());
  EXPECT_EQ(api.registry.size(), 0u);
}

TEST(ControlApi, DeepNestingIsRefusedNotACrash) {
  Api api;
  std::string deep = R"({"policy": {"x": )" + std::string(10'000, '[') + std::string(10'000, ']') + "}}";
  auto r = api.call("POST", "/v1/runs", deep);
  EXPECT_EQ(r.status, 400);
}

TEST(ControlApi, TheRunCapIs429) {
  Api api;
  RunLimits limits;
  limits.max_runs = 1;
  RunRegistry small(api.hooks(), limits);
  EXPECT_EQ(handle_control({"POST", "/v1/runs", R"({"profile": "a"})", true}, small, api.context).status, 201);
  auto r = handle_control({"POST", "/v1/runs", R"({"profile": "a"})", true}, small, api.context);
  EXPECT_EQ(r.status, 429);
  EXPECT_FALSE(error_of(r).empty());
}

TEST(ControlApi, IsControlTarget) {
  EXPECT_TRUE(is_control_target("/v1/runs"));
  EXPECT_TRUE(is_control_target("/v1/runs?x=1"));
  EXPECT_TRUE(is_control_target("/v1/runs/abc"));
  EXPECT_FALSE(is_control_target("/v1/runsabc"));
  EXPECT_FALSE(is_control_target("/metrics"));
}

TEST(JsonToToml, MapsEveryKind) {
  auto v = json::parse(R"({"s": "x", "b": false, "i": -3, "u": 9223372036854775807, "d": 1.5,
                           "a": [1, "two", [3], {"k": true}], "o": {"n": {"m": 1}}})");
  auto t = json_object_to_toml(v.get_object(), "");
  ASSERT_TRUE(t) << t.error();
  const toml::table& table = *t;
  EXPECT_EQ(table["s"].value<std::string>(), "x");
  EXPECT_EQ(table["b"].value<bool>(), false);
  EXPECT_EQ(table["i"].value<int64_t>(), -3);
  EXPECT_EQ(table["u"].value<int64_t>(), INT64_MAX);
  EXPECT_EQ(table["d"].value<double>(), 1.5);
  ASSERT_TRUE(table["a"].is_array());
  EXPECT_EQ(table["a"].as_array()->size(), 4u);
  EXPECT_EQ(table["a"][1].value<std::string>(), "two");
  EXPECT_EQ(table["a"][2][0].value<int64_t>(), 3);
  EXPECT_EQ(table["a"][3]["k"].value<bool>(), true);
  EXPECT_EQ(table["o"]["n"]["m"].value<int64_t>(), 1);
}

TEST(JsonToToml, NullAndHugeIntegersNameTheirPath) {
  auto n = json_to_toml(json::parse(R"({"a": [{"b": null}]})"), "policy");
  ASSERT_FALSE(n);
  EXPECT_EQ(n.error().rfind("policy.a[0].b: ", 0), 0u) << n.error();
  auto big = json_to_toml(json::parse("[18446744073709551615]"), "inject");
  ASSERT_FALSE(big);
  EXPECT_EQ(big.error().rfind("inject[0]: ", 0), 0u) << big.error();
  auto scalar = json_to_toml(json::parse("\"x\""), "v");
  ASSERT_TRUE(scalar);
  EXPECT_EQ((*scalar)->value<std::string>(), "x");
}

TEST(GoDuration, ParsesGoStyleDurations) {
  const std::pair<const char*, Millis> good[] = {
      {"90s", 90s},     {"10m", 10min}, {"1h30m", 90min}, {"1h30m15s", 5415s}, {"1.5h", 90min},
      {"500ms", 500ms}, {"2d", 48h},    {"600", 600s},    {"1m1m", 2min},      {".5s", 500ms},
      {"168h", 168h},   {"0s", 0s},     {"1.h", 1h},  // as Go reads it
  };
  for (const auto& [text, want] : good) {
    auto d = parse_go_duration(text);
    ASSERT_TRUE(d) << text << ": " << d.error();
    EXPECT_EQ(*d, want) << text;
  }
  for (const char* text :
       {"", "h", "10x", "1h30", "-5m", "+5m", " 5m", "5m ", "5 m", "1e3s", "99999999999999999999h", "1..5h", "5M"}) {
    auto d = parse_go_duration(text);
    ASSERT_FALSE(d) << text;
    EXPECT_NE(d.error().find("'" + std::string(text) + "'"), std::string::npos) << d.error();
  }
  const std::string long_text(100, '9');
  auto d = parse_go_duration(long_text + "x");
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error().find(long_text), std::string::npos) << d.error();
}

}  // namespace
}  // namespace ferry
