#include "control/control_api.h"

#include <openssl/crypto.h>

#include <boost/json.hpp>

#include "aws/ecs_endpoint.h"
#include "control/client_environment.h"
#include "control/go_duration.h"
#include "control/json_to_toml.h"

namespace ferry {

namespace json = boost::json;

namespace {

ControlResponse reply(int status, std::string body) {
  ControlResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

ControlResponse error_reply(int status, std::string_view message) { return reply(status, json_error(message)); }

ControlResponse method_not_allowed(const char* allow) {
  auto r = error_reply(405, "method not allowed (allowed: " + std::string(allow) + ")");
  r.headers.emplace_back("Allow", allow);
  return r;
}

Expected<Millis> parse_ttl(const json::value& v, Millis max_ttl) {
  Millis ttl{0};
  if (v.is_string()) {
    auto d = parse_go_duration(v.get_string());
    if (!d) return fail("ttl: " + d.error());
    ttl = *d;
  } else if (v.is_int64() || v.is_uint64()) {
    // Integer seconds. Beyond a year is out of range anyway.
    const int64_t secs = v.is_int64() ? v.get_int64() : -1;
    if (secs < 0 || secs > 366 * 86'400) return fail("ttl: must be positive and at most " + format_duration(max_ttl));
    ttl = std::chrono::seconds(secs);
  } else {
    return fail("ttl: must be a duration string (\"10m\", \"1h30m\") or a number of seconds");
  }
  if (ttl <= Millis(0)) return fail("ttl: must be positive");
  if (ttl > max_ttl)
    return fail("ttl: " + format_duration(ttl) + " is longer than the maximum " + format_duration(max_ttl));
  return ttl;
}

// At most `max` bytes of `s`, never ending inside a UTF-8 sequence (the
// JSON serializer copies strings as they are).
std::string_view utf8_prefix(std::string_view s, size_t max) {
  if (s.size() <= max) return s;
  size_t cut = max;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  return s.substr(0, cut);
}

json::object run_json(const Run& run) {
  json::object o;
  o["id"] = run.id;
  if (run.profile_name.empty()) o["profile"] = nullptr;
  else o["profile"] = run.profile_name;
  o["created"] = format_utc(run.created);
  o["expires"] = format_utc(run.expires);
  o["ttl"] = format_duration(run.ttl);
  return o;
}

// Serializes a value holding a token; the caller wipes the result. Growing
// the string copies it to a larger buffer and wipes the old one (a plain
// reallocation would leave a copy of the token in freed memory).
std::string serialize_secret(const json::object& v) {
  std::string out;
  out.reserve(4096);
  json::serializer sr;
  sr.reset(&v);
  char buf[4096];
  while (!sr.done()) {
    const std::string_view chunk = sr.read(buf, sizeof buf);
    if (out.size() + chunk.size() > out.capacity()) {
      std::string bigger;
      bigger.reserve(2 * (out.size() + chunk.size()));
      bigger.append(out);
      cleanse_string(out);
      out.swap(bigger);
    }
    out.append(chunk);
  }
  OPENSSL_cleanse(buf, sizeof buf);
  return out;
}

ControlResponse create_run(const ControlRequest& request, RunRegistry& registry, const ControlContext& context) {
  if (request.body.size() > kMaxControlBody)
    return error_reply(413, "the body is larger than " + std::to_string(kMaxControlBody) + " bytes");
  auto spec = parse_run_request(request.body, registry.limits().max_ttl);
  if (!spec) return error_reply(400, spec.error());
  auto created = registry.create(*spec);
  if (!created) {
    const auto& e = created.error();
    const int status = e.kind == RunError::Kind::invalid ? 400 : e.kind == RunError::Kind::full ? 429 : 500;
    return error_reply(status, e.message);
  }
  const Run& run = *created->run;
  const std::string_view token = created->token.view();

  // Every string holding the token lives in `arena` (wiped below) or in
  // `secrets` (wiped by their destructor); the response body is wiped by
  // ControlResponse.
  unsigned char arena[16 * 1024];
  json::monotonic_resource resource(arena, sizeof arena);
  json::storage_ptr sp(&resource);
  std::vector<Secret> secrets;
  const auto with_token = [&](std::string_view scheme, const std::string& address) {
    std::string url;
    url.reserve(scheme.size() + token.size() + address.size() + 8);
    url.append(scheme).append("://run:").append(token).append("@").append(address);
    secrets.emplace_back(std::move(url));
    return std::string(secrets.back().view());
  };
  ClientEnvironmentSpec env_spec;
  env_spec.proxy_url = with_token("http", context.proxy_address);
  if (!context.socks_address.empty()) env_spec.socks_url = with_token("socks5h", context.socks_address);
  env_spec.no_proxy = context.no_proxy;
  env_spec.ca_dir = context.ca_dir;
  auto env = client_environment(env_spec);
  // A profile with an AWS role: the SDKs' container credentials provider
  // asks ferry for the role's credentials with the run's token.
  if (run.profile && run.profile->aws) {
    env.emplace_back("AWS_CONTAINER_CREDENTIALS_FULL_URI",
                     "http://" + context.proxy_address + std::string(aws::kEcsCredentialsPath));
    env.emplace_back("AWS_CONTAINER_AUTHORIZATION_TOKEN", std::string(token));
  }

  ControlResponse r;
  {
    json::object o(sp);
    for (auto& [key, value] : run_json(run)) o.emplace(key, value);
    o["token"] = json::string(token, sp);
    o["proxy_url"] = json::string(env_spec.proxy_url, sp);
    json::object env_json(sp);
    for (const auto& [name, value] : env) env_json.emplace(name, json::string(value, sp));
    o["env"] = std::move(env_json);
    r.body = serialize_secret(o);
  }
  for (auto& [name, value] : env) cleanse_string(value);
  cleanse_string(env_spec.proxy_url);
  cleanse_string(env_spec.socks_url);
  OPENSSL_cleanse(arena, sizeof arena);
  r.status = 201;
  r.holds_secret = true;
  r.headers.emplace_back("Location", "/v1/runs/" + run.id);
  return r;
}

ControlResponse list_runs(RunRegistry& registry) {
  json::array runs;
  for (const auto& run : registry.list()) runs.push_back(run_json(*run));
  json::object o;
  o["runs"] = std::move(runs);
  return reply(200, json::serialize(o));
}

}  // namespace

ControlResponse::~ControlResponse() {
  if (holds_secret) cleanse_string(body);
}

std::string json_error(std::string_view message) {
  json::object o;
  o["error"] = message;
  return json::serialize(o);
}

bool is_control_target(std::string_view target) {
  const std::string_view path = target.substr(0, target.find('?'));
  return path == "/v1/runs" || path.starts_with("/v1/runs/");
}

Expected<RunSpec> parse_run_request(std::string_view body, Millis max_ttl) {
  json::error_code ec;
  json::parse_options options;
  options.max_depth = 32;
  json::value v = json::parse(body, ec, {}, options);
  if (ec) return fail("the body is not valid JSON: " + ec.message());
  if (!v.is_object()) return fail("the body must be a JSON object");
  RunSpec spec;
  bool has_inject = false, has_policy = false;
  for (const auto& [key, value] : v.get_object()) {
    if (key == "profile") {
      if (!value.is_string()) return fail("profile: must be a string (the name of a [profiles.NAME])");
      const auto& name = value.get_string();
      if (name.empty() || name.size() > 256) return fail("profile: must be a name of 1 to 256 characters");
      spec.profile = std::string(name);
    } else if (key == "inject") {
      if (!value.is_array()) return fail("inject: must be an array of objects (the keys of [[inject]])");
      const auto& rules = value.get_array();
      for (size_t i = 0; i < rules.size(); ++i)
        if (!rules[i].is_object()) return fail("inject[" + std::to_string(i) + "]: must be an object");
      auto array = json_array_to_toml(rules, "inject");
      if (!array) return fail(array.error());
      spec.inject = std::move(*array);
      has_inject = true;
    } else if (key == "policy") {
      if (!value.is_object()) return fail("policy: must be an object (the keys of [policy])");
      auto table = json_object_to_toml(value.get_object(), "policy");
      if (!table) return fail(table.error());
      spec.policy = std::move(*table);
      has_policy = true;
    } else if (key == "ttl") {
      auto ttl = parse_ttl(value, max_ttl);
      if (!ttl) return fail(ttl.error());
      spec.ttl = *ttl;
    } else {
      return fail("unknown field '" + std::string(utf8_prefix(key, 64)) + "' (known: profile, inject, policy, ttl)");
    }
  }
  if (spec.profile.empty() && !has_inject && !has_policy) return fail("one of profile, inject and policy is required");
  return spec;
}

ControlResponse handle_control(const ControlRequest& request, RunRegistry& registry, const ControlContext& context) {
  const std::string_view path = request.target.substr(0, request.target.find('?'));
  if (!is_control_target(path)) return error_reply(404, "no such path");
  if (!request.authorized) {
    auto r = error_reply(401, "the runs API needs the admin token (Authorization: Bearer)");
    r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"ferry-admin\"");
    return r;
  }
  if (path == "/v1/runs") {
    if (request.method == "GET") return list_runs(registry);
    if (request.method == "POST") return create_run(request, registry, context);
    return method_not_allowed("GET, POST");
  }
  const std::string id(path.substr(std::string_view("/v1/runs/").size()));
  if (request.method != "GET" && request.method != "DELETE") return method_not_allowed("GET, DELETE");
  if (request.method == "GET") {
    auto run = registry.get(id);
    if (!run) return error_reply(404, "no such run");
    return reply(200, json::serialize(run_json(*run)));
  }
  if (!registry.remove(id)) return error_reply(404, "no such run");
  return reply(204, "");
}

}  // namespace ferry
