// ConfigBuilder: setters, TOML loading, cross-field checks.
#include "config/config_loader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>

namespace ferry {
namespace {

using testing::HasSubstr;
using testing::Not;

SettingValue sv(std::vector<std::string> items, std::string origin = "--test-origin") {
  return SettingValue{std::move(items), std::move(origin)};
}

// ---------------------------------------------------------------- good values

TEST(ConfigSet, Listen) {
  ConfigBuilder b;
  ASSERT_TRUE(b.set("listen", sv({"127.0.0.1:8080", "[::1]:8081"})));
  ASSERT_EQ(b.config().listen.size(), 2u);
  EXPECT_EQ(b.config().listen[0], (HostPort{"127.0.0.1", 8080}));
  EXPECT_EQ(b.config().listen[1], (HostPort{"::1", 8081}));
  // A later setting replaces, not appends.
  ASSERT_TRUE(b.set("listen", sv({"127.0.0.1:9"})));
  EXPECT_EQ(b.config().listen.size(), 1u);
}

TEST(ConfigSet, Durations) {
  ConfigBuilder b;
  ASSERT_TRUE(b.set("idle_timeout", sv({"90s"})));
  EXPECT_EQ(b.config().idle_timeout.count(), 90'000);
  ASSERT_TRUE(b.set("idle_timeout", sv({"0"})));
  EXPECT_EQ(b.config().idle_timeout.count(), 0) << "0 disables the idle timeout";
  ASSERT_TRUE(b.set("connect_timeout", sv({"250ms"})));
  EXPECT_EQ(b.config().connect_timeout.count(), 250);
}

TEST(ConfigSet, Numbers) {
  ConfigBuilder b;
  ASSERT_TRUE(b.set("max_connections", sv({"1"})));
  EXPECT_EQ(b.config().max_connections, 1u);
  ASSERT_TRUE(b.set("max_connections", sv({"1000000"})));
  EXPECT_EQ(b.config().max_connections, 1'000'000u);
  ASSERT_TRUE(b.set("workers", sv({"0"})));
  EXPECT_EQ(b.config().workers, 0u);
  ASSERT_TRUE(b.set("workers", sv({"256"})));
  EXPECT_EQ(b.config().workers, 256u);
}

TEST(ConfigSet, Enums) {
  ConfigBuilder b;
  ASSERT_TRUE(b.set("relay", sv({"splice"})));
  EXPECT_EQ(b.config().relay, RelayMode::splice);
  ASSERT_TRUE(b.set("relay", sv({"copy"})));
  EXPECT_EQ(b.config().relay, RelayMode::copy);
  ASSERT_TRUE(b.set("relay", sv({"auto"})));
  EXPECT_EQ(b.config().relay, RelayMode::automatic);
  ASSERT_TRUE(b.set("log_format", sv({"text"})));
  EXPECT_EQ(b.config().log_format, LogFormat::text);
  ASSERT_TRUE(b.set("log_format", sv({"json"})));
  EXPECT_EQ(b.config().log_format, LogFormat::json);
  const std::pair<const char*, LogLevel> levels[] = {{"debug", LogLevel::debug},
                                                     {"info", LogLevel::info},
                                                     {"warn", LogLevel::warn},
                                                     {"error", LogLevel::error},
                                                     {"off", LogLevel::off}};
  for (auto [text, level] : levels) {
    ASSERT_TRUE(b.set("log_level", sv({text}))) << text;
    EXPECT_EQ(b.config().log_level, level) << text;
  }
}

TEST(ConfigSet, Allow) {
  ConfigBuilder b;
  ASSERT_TRUE(b.set("security.allow", sv({"10.0.0.0/8, 192.168.0.0/16", "::1"})));
  ASSERT_EQ(b.config().allow.size(), 3u);
  EXPECT_EQ(b.config().allow[1].to_string(), "192.168.0.0/16");
  EXPECT_TRUE(b.config().allow_explicit);
}

TEST(ConfigSet, ConnectPorts) {
  ConfigBuilder b;
  ASSERT_TRUE(b.set("security.connect_ports", sv({"443,8443", "22"})));
  EXPECT_EQ(b.config().connect_ports.to_string(), "443,8443,22");
  EXPECT_TRUE(b.config().connect_ports.allows(22));
  EXPECT_FALSE(b.config().connect_ports.allows(80));
  ASSERT_TRUE(b.set("security.connect_ports", sv({"*"})));
  EXPECT_TRUE(b.config().connect_ports.allows(80));
  EXPECT_EQ(b.config().connect_ports.to_string(), "*");
}

TEST(ConfigDefaults, MatchSpec) {
  Config c;
  ASSERT_EQ(c.listen.size(), 1u);
  EXPECT_EQ(c.listen[0].to_string(), "127.0.0.1:3128");
  EXPECT_EQ(c.connect_ports.to_string(), "443");
  EXPECT_EQ(c.idle_timeout.count(), 300'000);
  EXPECT_EQ(c.connect_timeout.count(), 10'000);
  EXPECT_EQ(c.header_timeout.count(), 30'000);
  EXPECT_EQ(c.max_connections, 4096u);
  EXPECT_EQ(c.log_format, LogFormat::json);
  EXPECT_EQ(c.log_level, LogLevel::info);
}

// ---------------------------------------------------------------- bad values

struct BadSetting {
  const char* key;
  std::vector<std::string> items;
};

class ConfigSetRejects : public testing::TestWithParam<BadSetting> {};

TEST_P(ConfigSetRejects, ErrorNamesOrigin) {
  ConfigBuilder b;
  auto r = b.set(GetParam().key, sv(GetParam().items, "cfg.toml:7 (some.key)"));
  ASSERT_FALSE(r) << GetParam().key;
  EXPECT_THAT(r.error(), HasSubstr("cfg.toml:7 (some.key)"));
}

INSTANTIATE_TEST_SUITE_P(
    All, ConfigSetRejects,
    testing::Values(BadSetting{"listen", {}}, BadSetting{"listen", {"127.0.0.1"}}, BadSetting{"listen", {"::1:80"}},
                    BadSetting{"listen", {"127.0.0.1:0"}}, BadSetting{"listen", {"127.0.0.1:80", "bad:port"}},
                    BadSetting{"idle_timeout", {"5x"}}, BadSetting{"idle_timeout", {}},
                    BadSetting{"idle_timeout", {"1s", "2s"}}, BadSetting{"connect_timeout", {"0"}},
                    BadSetting{"connect_timeout", {"-1s"}}, BadSetting{"max_connections", {"0"}},
                    BadSetting{"max_connections", {"1000001"}}, BadSetting{"max_connections", {"ten"}},
                    BadSetting{"max_connections", {""}}, BadSetting{"max_connections", {"10k"}},
                    BadSetting{"max_connections", {"-5"}}, BadSetting{"workers", {"257"}}, BadSetting{"workers", {"x"}},
                    BadSetting{"relay", {"fast"}}, BadSetting{"relay", {}}, BadSetting{"log_format", {"xml"}},
                    BadSetting{"log_format", {"JSON "}}, BadSetting{"log_level", {"verbose"}},
                    BadSetting{"security.allow", {"10.0.0.0/33"}}, BadSetting{"security.allow", {"not-an-ip"}},
                    BadSetting{"security.allow", {""}}, BadSetting{"security.allow", {}},
                    BadSetting{"security.connect_ports", {"0"}}, BadSetting{"security.connect_ports", {"https"}},
                    BadSetting{"security.connect_ports", {""}}, BadSetting{"security.connect_ports", {"70000"}}),
    [](const testing::TestParamInfo<BadSetting>& i) { return "Case" + std::to_string(i.index); });

TEST(ConfigSet, BadValueIsNamedInError) {
  ConfigBuilder b;
  auto r = b.set("listen", sv({"nohost:99999"}, "--listen"));
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error(), HasSubstr("--listen"));
  EXPECT_THAT(r.error(), HasSubstr("nohost:99999"));
  auto p = b.set("security.connect_ports", sv({"https"}, "--connect-ports"));
  ASSERT_FALSE(p);
  EXPECT_THAT(p.error(), HasSubstr("https"));
}

TEST(ConfigSet, UnimplementedKeysNotSupported) {
  for (const auto& k : known_keys()) {
    if (k.implemented) continue;
    ConfigBuilder b;
    auto r = b.set(k.toml_key, sv({"x"}, "--origin-x"));
    ASSERT_FALSE(r) << k.toml_key;
    EXPECT_THAT(r.error(), HasSubstr("not supported")) << k.toml_key;
    EXPECT_THAT(r.error(), HasSubstr("--origin-x")) << k.toml_key;
  }
  ConfigBuilder b;
  auto r = b.set("routing.pac", sv({"http://wpad/wpad.dat"}, "--pac"));
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error(), HasSubstr("not supported"));
}

TEST(ConfigSet, UpstreamErrorsNameTheFlagAndMaskThePassword) {
  ConfigBuilder b;
  auto r = b.set("upstream.proxies", sv({"http://bob:s3cret@proxy:8080/path"}, "--upstream"));
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error(), HasSubstr("--upstream"));
  EXPECT_THAT(r.error(), Not(HasSubstr("s3cret")));
}

TEST(ConfigSet, UpstreamsAndRoutingLists) {
  ConfigBuilder b;
  ASSERT_TRUE(b.set("upstream.proxies", sv({"http://p1:8080,socks5h://p2:1080"}, "--upstream")));
  ASSERT_EQ(b.config().upstreams.size(), 2u);
  EXPECT_EQ(b.config().upstreams[1].scheme, ProxyScheme::socks5h);
  ASSERT_TRUE(b.set("routing.no_proxy", sv({".corp.com", "10.0.0.0/8"}, "--no-proxy")));
  EXPECT_EQ(b.config().no_proxy, ".corp.com,10.0.0.0/8");
  EXPECT_TRUE(b.config().no_proxy_set);
  auto bad = b.set("routing.no_proxy", sv({"10.0.0.0/99"}, "--no-proxy"));
  ASSERT_FALSE(bad);
  EXPECT_THAT(bad.error(), HasSubstr("--no-proxy"));
  ASSERT_TRUE(b.set("upstream.auth", sv({"digest"}, "--auth")));
  EXPECT_EQ(b.config().auth, AuthMode::digest);
  auto mode = b.set("upstream.auth", sv({"kerberos"}, "--auth"));
  ASSERT_FALSE(mode);
  EXPECT_THAT(mode.error(), HasSubstr("auto, negotiate, ntlm, digest, basic or none"));
}

TEST(ConfigSet, UnknownKeyRejected) {
  ConfigBuilder b;
  auto r = b.set("no_such_key", sv({"1"}, "--no-such"));
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error(), HasSubstr("--no-such"));
  EXPECT_THAT(r.error(), HasSubstr("unknown"));
}

TEST(KnownKeys, EveryImplementedKeyIsSettable) {
  // Each implemented key accepts some value, i.e. set() really handles it.
  const std::map<std::string_view, std::string> good = {{"listen", "127.0.0.1:1"},
                                                        {"idle_timeout", "1s"},
                                                        {"connect_timeout", "1s"},
                                                        {"max_connections", "10"},
                                                        {"workers", "1"},
                                                        {"relay", "copy"},
                                                        {"log_format", "text"},
                                                        {"log_level", "debug"},
                                                        {"security.allow", "10.0.0.0/8"},
                                                        {"security.connect_ports", "443"},
                                                        {"socks_listen", "127.0.0.1:1080"},
                                                        {"upstream.proxies", "http://proxy:3128"},
                                                        {"upstream.auth", "basic"},
                                                        {"upstream.user", "bob"},
                                                        {"upstream.password_file", "/etc/ferry/pw"},
                                                        {"upstream.ca", "/etc/ferry/ca.pem"},
                                                        {"interception.ca_dir", "/var/lib/ferry/ca"},
                                                        {"interception.origin_ca", "/etc/ferry/origins.pem"},
                                                        {"interception.leaf_key_per_host", "true"},
                                                        {"interception.leaf_cache_size", "16"},
                                                        {"interception.request_log", "/var/log/ferry.jsonl"},
                                                        {"interception.request_log_bodies", "false"},
                                                        {"routing.no_proxy", ".corp.com"},
                                                        {"routing.no_proxy_exact", "github.com"},
                                                        {"upstream.spn", "HTTP@proxy.corp"},
                                                        {"upstream.realm", "CORP.EXAMPLE"},
                                                        {"upstream.keytab", "/etc/ferry/client.keytab"},
                                                        {"upstream.auth_allow_basic_fallback", "true"},
                                                        {"upstream.require_mutual_auth", "false"},
                                                        {"admin", "/run/ferry/admin.sock"},
                                                        {"admin_token", "/etc/ferry/admin.token"},
                                                        {"security.client_tokens", "/etc/ferry/tokens"}};
  for (const auto& k : known_keys()) {
    if (!k.implemented) continue;
    auto it = good.find(k.toml_key);
    ASSERT_NE(it, good.end()) << "test needs a value for " << k.toml_key;
    ConfigBuilder b;
    auto r = b.set(k.toml_key, sv({it->second}));
    EXPECT_TRUE(r) << k.toml_key << ": " << (r ? "" : r.error());
  }
}

// ---------------------------------------------------------------- TOML

class TempToml {
 public:
  explicit TempToml(const std::string& text) {
    static int counter = 0;
    path_ = (std::filesystem::temp_directory_path() /
             ("ferry_config_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++) + ".toml"))
                .string();
    std::ofstream(path_) << text;
  }
  ~TempToml() { std::filesystem::remove(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(LoadToml, GoodFile) {
  TempToml f(
      "# comment\n"
      "listen = [\"127.0.0.1:4000\", \"[::1]:4001\"]\n"
      "idle_timeout = \"2m\"\n"
      "max_connections = 50\n"
      "log_format = \"text\"\n"
      "[security]\n"
      "allow = [\"10.0.0.0/8\", \"127.0.0.1\"]\n"
      "connect_ports = [443, 8443]\n");
  ConfigBuilder b;
  auto r = b.load_toml(f.path());
  ASSERT_TRUE(r) << r.error();
  const auto& c = b.config();
  ASSERT_EQ(c.listen.size(), 2u);
  EXPECT_EQ(c.listen[1].to_string(), "[::1]:4001");
  EXPECT_EQ(c.idle_timeout.count(), 120'000);
  EXPECT_EQ(c.max_connections, 50u);
  EXPECT_EQ(c.log_format, LogFormat::text);
  EXPECT_EQ(c.allow.size(), 2u);
  EXPECT_TRUE(c.allow_explicit);
  EXPECT_EQ(c.connect_ports.to_string(), "443,8443");
  auto fin = b.finish();
  EXPECT_TRUE(fin) << fin.error();
}

TEST(LoadToml, AuthSwitchesTakeBooleans) {
  TempToml f(
      "[upstream]\n"
      "auth_allow_basic_fallback = true\n"
      "require_mutual_auth = true\n");
  ConfigBuilder b;
  auto r = b.load_toml(f.path());
  ASSERT_TRUE(r) << r.error();
  EXPECT_TRUE(b.config().auth_allow_basic_fallback);
  EXPECT_TRUE(b.config().require_mutual_auth);
  EXPECT_FALSE(Config{}.auth_allow_basic_fallback) << "off unless asked for";
  EXPECT_FALSE(Config{}.require_mutual_auth) << "off unless asked for";

  TempToml bad("[upstream]\nrequire_mutual_auth = \"yes\"\n");
  ConfigBuilder b2;
  auto r2 = b2.load_toml(bad.path());
  ASSERT_FALSE(r2);
  EXPECT_THAT(r2.error(), HasSubstr("true or false"));
}

TEST(LoadToml, InterceptionTable) {
  TempToml f(
      "[interception]\n"
      "ca_dir = \"/srv/ferry/ca\"\n"
      "origin_ca = \"/srv/ferry/origins.pem\"\n"
      "leaf_key_per_host = true\n"
      "leaf_cache_size = 5000\n"
      "request_log = \"/srv/ferry/requests.jsonl\"\n"
      "request_log_bodies = true\n");
  ConfigBuilder b;
  auto r = b.load_toml(f.path());
  ASSERT_TRUE(r) << r.error();
  const auto& i = b.config().interception;
  EXPECT_EQ(i.ca_dir, "/srv/ferry/ca");
  EXPECT_EQ(i.origin_ca, "/srv/ferry/origins.pem");
  EXPECT_TRUE(i.leaf_key_per_host);
  EXPECT_EQ(i.leaf_cache_size, 5000u);
  EXPECT_EQ(i.request_log, "/srv/ferry/requests.jsonl");
  EXPECT_TRUE(i.request_log_bodies);

  const InterceptionSettings defaults;
  EXPECT_EQ(defaults.ca_dir, "") << "empty: default_ca_dir decides";
  EXPECT_EQ(defaults.leaf_cache_size, 1024u);
  EXPECT_FALSE(defaults.leaf_key_per_host);
  EXPECT_FALSE(defaults.request_log_bodies);

  TempToml bad("[interception]\nleaf_cache_size = 0\n");
  ConfigBuilder b2;
  auto r2 = b2.load_toml(bad.path());
  ASSERT_FALSE(r2);
  EXPECT_THAT(r2.error(), HasSubstr(":2 (interception.leaf_cache_size)"));
}

TEST(ConfigSet, InterceptionRejects) {
  for (auto [key, value] : std::vector<std::pair<std::string, std::string>>{{"interception.leaf_cache_size", "0"},
                                                                            {"interception.leaf_cache_size", "many"},
                                                                            {"interception.leaf_cache_size", "-1"},
                                                                            {"interception.ca_dir", ""},
                                                                            {"interception.origin_ca", ""},
                                                                            {"interception.leaf_key_per_host", "yes"},
                                                                            {"interception.request_log_bodies", "1"},
                                                                            {"interception.no_such", "x"}}) {
    ConfigBuilder b;
    auto r = b.set(key, sv({value}, "--flag-" + key));
    ASSERT_FALSE(r) << key << "=" << value;
    EXPECT_THAT(r.error(), HasSubstr("--flag-" + key));
  }
}

TEST(LoadToml, EmptyFileIsFine) {
  TempToml f("");
  ConfigBuilder b;
  EXPECT_TRUE(b.load_toml(f.path()));
}

TEST(LoadToml, UnknownTopLevelKeyNamesFileLineAndKey) {
  TempToml f("listen = [\"127.0.0.1:4000\"]\n\nlisten_adress = \"x\"\n");
  ConfigBuilder b;
  auto r = b.load_toml(f.path());
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error(), HasSubstr(f.path() + ":3"));
  EXPECT_THAT(r.error(), HasSubstr("listen_adress"));
}

TEST(LoadToml, UnknownKeyInTableNamesFileLineAndKey) {
  TempToml f("[security]\nallow = [\"10.0.0.0/8\"]\nallw = [\"x\"]\n");
  ConfigBuilder b;
  auto r = b.load_toml(f.path());
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error(), HasSubstr(f.path() + ":3"));
  EXPECT_THAT(r.error(), HasSubstr("security.allw"));
}

TEST(LoadToml, UnknownTable) {
  TempToml f("[nope]\nkey = 1\n");
  ConfigBuilder b;
  auto r = b.load_toml(f.path());
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error(), HasSubstr(f.path() + ":2"));
  EXPECT_THAT(r.error(), HasSubstr("nope.key"));
}

TEST(LoadToml, NestedTableUnderKnownTableRejected) {
  TempToml f("[security.extra]\nkey = 1\n");
  ConfigBuilder b;
  auto r = b.load_toml(f.path());
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error(), HasSubstr("security.extra"));
}

TEST(LoadToml, BadValueNamesFileLineAndKey) {
  TempToml f("log_format = \"json\"\nidle_timeout = \"forever\"\n");
  ConfigBuilder b;
  auto r = b.load_toml(f.path());
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error(), HasSubstr(f.path() + ":2"));
  EXPECT_THAT(r.error(), HasSubstr("idle_timeout"));
  EXPECT_THAT(r.error(), HasSubstr("forever"));
}

TEST(LoadToml, WrongValueTypeRejected) {
  TempToml f("max_connections = true\n");
  ConfigBuilder b;
  auto r = b.load_toml(f.path());
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error(), HasSubstr(f.path() + ":1"));
}

TEST(LoadToml, SyntaxErrorNamesFileAndLine) {
  TempToml f("listen = [\"127.0.0.1:4000\"]\nidle_timeout = \"5m\n");
  ConfigBuilder b;
  auto r = b.load_toml(f.path());
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error(), HasSubstr(f.path() + ":2"));
}

TEST(LoadToml, DuplicateKeyIsSyntaxError) {
  TempToml f("log_level = \"info\"\nlog_level = \"debug\"\n");
  ConfigBuilder b;
  auto r = b.load_toml(f.path());
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error(), HasSubstr(f.path() + ":2"));
}

TEST(LoadToml, MissingFileIsAnError) {
  ConfigBuilder b;
  auto r = b.load_toml("/nonexistent/dir/ferry.toml");
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error(), HasSubstr("/nonexistent/dir/ferry.toml"));
}

TEST(LoadToml, ArrayOfTablesInjectAccepted) {
  TempToml f("[[inject]]\nhost = \"api.github.com\"\nheader = \"Authorization\"\nvalue = \"x\"\n");
  ConfigBuilder b;
  auto r = b.load_toml(f.path());
  ASSERT_TRUE(r) << r.error();
  ASSERT_EQ(b.config().inject.size(), 1u);  // the rest in inject_config_test.cpp
}

TEST(LoadToml, UnimplementedSpecKeysRejected) {
  TempToml f("[upstream]\nproxies = [\"http://proxy1.corp:8080\"]\n[routing]\npac = \"/etc/proxy.pac\"\n");
  ConfigBuilder b;
  auto r = b.load_toml(f.path());
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error(), HasSubstr(f.path() + ":4"));
  EXPECT_THAT(r.error(), HasSubstr("routing.pac"));
  EXPECT_THAT(r.error(), HasSubstr("not supported"));
}

// ---------------------------------------------------------------- finish

TEST(ConfigFinish, LoopbackDefaultAllowList) {
  ConfigBuilder b;
  auto c = b.finish();
  ASSERT_TRUE(c) << c.error();
  ASSERT_EQ(c->allow.size(), 2u);
  EXPECT_EQ(c->allow[0].to_string(), "127.0.0.0/8");
  EXPECT_EQ(c->allow[1].to_string(), "::1/128");
  EXPECT_FALSE(c->allow_explicit);
}

TEST(ConfigFinish, LoopbackListenersNeedNoAllow) {
  for (const char* l : {"127.0.0.1:3128", "127.9.9.9:1", "[::1]:3128", "localhost:3128"}) {
    ConfigBuilder b;
    ASSERT_TRUE(b.set("listen", sv({l})));
    auto c = b.finish();
    EXPECT_TRUE(c) << l << ": " << (c ? "" : c.error());
  }
}

TEST(ConfigFinish, NonLoopbackWithoutAllowRefused) {
  for (const char* l : {"0.0.0.0:3128", "[::]:3128", "192.0.2.10:3128"}) {
    ConfigBuilder b;
    ASSERT_TRUE(b.set("listen", sv({"127.0.0.1:3128", l})));
    auto c = b.finish();
    ASSERT_FALSE(c) << l;
    EXPECT_THAT(c.error(), HasSubstr("--allow")) << l;
  }
}

TEST(ConfigFinish, NonLoopbackWithAllowAccepted) {
  ConfigBuilder b;
  ASSERT_TRUE(b.set("listen", sv({"0.0.0.0:3128"})));
  ASSERT_TRUE(b.set("security.allow", sv({"10.0.0.0/8"})));
  auto c = b.finish();
  ASSERT_TRUE(c) << c.error();
  ASSERT_EQ(c->allow.size(), 1u) << "an explicit allow list replaces the loopback default";
  EXPECT_EQ(c->allow[0].to_string(), "10.0.0.0/8");
}

// With client tokens the token is the key (SPEC §2): a container that
// reaches a host listener from its own address needs no --allow.
TEST(ConfigFinish, NonLoopbackWithClientTokensNeedsNoAllow) {
  ConfigBuilder b;
  ASSERT_TRUE(b.set("listen", sv({"0.0.0.0:3128"})));
  ASSERT_TRUE(b.set("security.client_tokens", sv({"/etc/ferry/tokens"})));
  auto c = b.finish();
  ASSERT_TRUE(c) << c.error();
  ASSERT_EQ(c->allow.size(), 2u);
  EXPECT_EQ(c->allow[0].to_string(), "0.0.0.0/0");
  EXPECT_EQ(c->allow[1].to_string(), "::/0");
  // An explicit --allow still narrows it.
  ConfigBuilder narrowed;
  ASSERT_TRUE(narrowed.set("listen", sv({"0.0.0.0:3128"})));
  ASSERT_TRUE(narrowed.set("security.client_tokens", sv({"/etc/ferry/tokens"})));
  ASSERT_TRUE(narrowed.set("security.allow", sv({"172.17.0.0/16"})));
  auto n = narrowed.finish();
  ASSERT_TRUE(n) << n.error();
  ASSERT_EQ(n->allow.size(), 1u);
}

TEST(ConfigFinish, HostNameListenerRefused) {
  ConfigBuilder b;
  ASSERT_TRUE(b.set("listen", sv({"proxy.example:3128"})));
  ASSERT_TRUE(b.set("security.allow", sv({"10.0.0.0/8"})));
  EXPECT_FALSE(b.finish());
}

}  // namespace
}  // namespace ferry
