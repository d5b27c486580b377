// The base credential sources (credential_process JSON, environment), the
// role cache (refresh 5 min before expiry, one refresh at a time across
// threads, failures remembered briefly), the ECS endpoint and [aws] config.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <thread>

#include "aws/aws_time.h"
#include "aws/base_credentials.h"
#include "aws/ecs_endpoint.h"
#include "aws/flat_json.h"
#include "aws/role_credentials.h"
#include "config/aws_config.h"
#include "fetch_bed.h"

namespace ferry::aws {
namespace {

using ferry::testing::FetchBed;
using ferry::testing::FixedResolver;

BaseCredentialSource::EnvLookup env_of(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

SystemTime t0() {
  using namespace std::chrono;
  return sys_days{year{2026} / December / 3} + hours{12};
}

TEST(FlatJson, StrictFlatObjects) {
  auto o = FlatJsonObject::parse(R"( {"a": "x\"\u00e9\ud83d\ude00", "n": -1.5e3, "t": true, "z": null} )");
  ASSERT_TRUE(o) << o.error();
  EXPECT_EQ(o->get("a")->text, "x\"\xc3\xa9\xf0\x9f\x98\x80");
  EXPECT_EQ(o->get("n")->kind, FlatJsonValue::Kind::number);
  EXPECT_EQ(o->get("t")->text, "true");
  EXPECT_EQ(o->get("z")->kind, FlatJsonValue::Kind::null);
  for (const char* bad : {"", "{", "{\"a\":1,}", "{\"a\":[1]}", "{\"a\":{}}", "{\"a\":1,\"a\":2}", "{\"a\":01}",
                          "{\"a\":\"\\ud800\"}", "{\"a\":\"x\ny\"}", "{} x", "{\"a\" 1}", "{\"a\":tru}", "[]"})
    EXPECT_FALSE(FlatJsonObject::parse(bad)) << bad;
}

TEST(BaseCredentials, CredentialProcessOutput) {
  auto c = parse_credential_process_output(
      R"({"Version": 1, "AccessKeyId": "AKID", "SecretAccessKey": "s3cr3t", "SessionToken": "tok",
          "Expiration": "2026-12-03T13:00:00Z"})");
  ASSERT_TRUE(c) << c.error();
  EXPECT_EQ(c->access_key_id, "AKID");
  EXPECT_EQ(c->secret_access_key.view(), "s3cr3t");
  EXPECT_EQ(c->session_token.view(), "tok");
  EXPECT_EQ(*c->expiration, t0() + std::chrono::hours(1));
  c = parse_credential_process_output(R"({"Version":1,"AccessKeyId":"AKID","SecretAccessKey":"s3cr3t"})");
  ASSERT_TRUE(c);
  EXPECT_TRUE(c->session_token.empty());
  EXPECT_FALSE(c->expiration);

  for (const char* bad : {R"({"Version":2,"AccessKeyId":"A","SecretAccessKey":"s3cr3t"})",
                          R"({"AccessKeyId":"A","SecretAccessKey":"s3cr3t"})",
                          R"({"Version":1,"SecretAccessKey":"s3cr3t"})", R"({"Version":1,"AccessKeyId":"A"})",
                          R"({"Version":1,"AccessKeyId":"A","SecretAccessKey":"s3cr3t","Expiration":"soon"})",
                          R"({"Version":1,"AccessKeyId":"A","SecretAccessKey":"s3cr3t","SessionToken":5})", "s3cr3t"}) {
    auto r = parse_credential_process_output(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().find("s3cr3t"), std::string::npos) << r.error();
  }
}

TEST(BaseCredentials, CommandAndEnvironment) {
  auto cmd =
      BaseCredentialSource::command(R"(printf '{"Version":1,"AccessKeyId":"AKCMD","SecretAccessKey":"from-cmd"}')");
  EXPECT_TRUE(cmd.may_block());
  auto c = cmd.fetch();
  ASSERT_TRUE(c) << c.error();
  EXPECT_EQ(c->access_key_id, "AKCMD");
  EXPECT_EQ(c->secret_access_key.view(), "from-cmd");

  auto failing = BaseCredentialSource::command("echo leaked-secret; exit 3").fetch();
  ASSERT_FALSE(failing);
  EXPECT_NE(failing.error().find("exited with status 3"), std::string::npos) << failing.error();
  EXPECT_EQ(failing.error().find("leaked-secret\n"), std::string::npos);
  auto garbage = BaseCredentialSource::command("echo '{\"Version\":1,\"SecretAccessKey\":\"xyz-secret\"}'").fetch();
  ASSERT_FALSE(garbage);
  EXPECT_NE(garbage.error().find("printed no valid credentials: \"AccessKeyId\""), std::string::npos)
      << garbage.error();

  auto env = BaseCredentialSource::environment(
      env_of({{"AWS_ACCESS_KEY_ID", "AKENV"}, {"AWS_SECRET_ACCESS_KEY", "env-secret"}, {"AWS_SESSION_TOKEN", "t"}}));
  ASSERT_TRUE(env) << env.error();
  EXPECT_FALSE(env->may_block());
  c = env->fetch();
  ASSERT_TRUE(c);
  EXPECT_EQ(c->access_key_id, "AKENV");
  EXPECT_EQ(c->session_token.view(), "t");
  auto missing = BaseCredentialSource::environment(env_of({{"AWS_ACCESS_KEY_ID", "AKENV"}}));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error(), "environment variable AWS_SECRET_ACCESS_KEY is not set");
}

std::string sts_ok(const std::string& key_id, SystemTime expires) {
  const std::string xml = "<AssumeRoleResponse><AssumeRoleResult><Credentials><AccessKeyId>" + key_id +
                          "</AccessKeyId><SecretAccessKey>role-secret</SecretAccessKey><SessionToken>role-token"
                          "</SessionToken><Expiration>" +
                          format_iso8601(expires) +
                          "</Expiration></Credentials></AssumeRoleResult></AssumeRoleResponse>";
  return "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(xml.size()) + "\r\n\r\n" + xml;
}

std::string sts_denied() {
  const std::string xml =
      "<ErrorResponse><Error><Code>AccessDenied</Code><Message>not allowed</Message></Error></ErrorResponse>";
  return "HTTP/1.1 403 Forbidden\r\nContent-Length: " + std::to_string(xml.size()) + "\r\n\r\n" + xml;
}

AwsRoleConfig role_config(const FetchBed& bed) {
  AwsRoleConfig c;
  c.role_arn = "arn:aws:iam::123456789012:role/demo";
  c.region = "us-east-1";
  c.sts_endpoint = bed.url();
  return c;
}

BaseCredentialSource env_base() {
  return *BaseCredentialSource::environment(env_of({{"AWS_ACCESS_KEY_ID", "AKBASE"},
                                                    {"AWS_SECRET_ACCESS_KEY", "base-secret"}}));
}

struct RoleBed {
  FetchBed bed;
  FixedResolver resolver;
  std::atomic<int64_t> now_s{0};  // seconds after t0()
  RoleCredentials role{role_config(bed), env_base(), [this] { return t0() + std::chrono::seconds(now_s.load()); }};

  Expected<AwsCredentials, ProxyError> get() {
    Expected<AwsCredentials, ProxyError> out = Unexpected{ProxyError{ProxyErrc::proxy_internal_error, "not run"}};
    bed.run([&]() -> awaitable<void> { out = co_await role.get(*bed.ctx, resolver, Millis(3000)); });
    return out;
  }
};

TEST(RoleCredentials, CachedUntilFiveMinutesBeforeExpiry) {
  RoleBed b;
  int n = 0;
  b.bed.respond = [&](const std::string&) {
    return sts_ok("ASIA" + std::to_string(++n), t0() + std::chrono::hours(1));
  };
  auto c = b.get();
  ASSERT_TRUE(c) << c.error().details;
  EXPECT_EQ(c->access_key_id, "ASIA1");
  EXPECT_EQ(c->secret_access_key.view(), "role-secret");
  b.now_s = 54 * 60;  // 6 minutes before expiry: cached
  EXPECT_EQ(b.get()->access_key_id, "ASIA1");
  EXPECT_EQ(b.bed.requests.size(), 1u);
  b.now_s = 55 * 60;  // 5 minutes before: refreshed
  EXPECT_EQ(b.get()->access_key_id, "ASIA2");
  EXPECT_EQ(b.bed.requests.size(), 2u);
  EXPECT_EQ(b.role.refreshes(), 2u);
}

TEST(RoleCredentials, FailuresAreRememberedForFiveSecondsThenRetried) {
  RoleBed b;
  b.bed.respond = [](const std::string&) { return sts_denied(); };
  auto c = b.get();
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().details.find("STS answered 403 AccessDenied: not allowed"), std::string::npos)
      << c.error().details;
  EXPECT_EQ(c.error().details.find("base-secret"), std::string::npos);
  b.now_s = 4;
  EXPECT_FALSE(b.get());
  EXPECT_EQ(b.bed.requests.size(), 1u);
  b.now_s = 5;
  b.bed.respond = [](const std::string&) { return sts_ok("ASIAOK", t0() + std::chrono::hours(1)); };
  c = b.get();
  ASSERT_TRUE(c) << c.error().details;
  EXPECT_EQ(b.bed.requests.size(), 2u);
}

TEST(RoleCredentials, AFailedEarlyRefreshServesTheHeldCredentialsUntilTheyExpire) {
  RoleBed b;
  b.bed.respond = [](const std::string&) { return sts_ok("ASIAHELD", t0() + std::chrono::hours(1)); };
  ASSERT_TRUE(b.get());
  b.bed.respond = [](const std::string&) { return sts_denied(); };
  b.now_s = 56 * 60;  // inside the margin: a refresh, which fails
  auto c = b.get();
  ASSERT_TRUE(c) << c.error().details;
  EXPECT_EQ(c->access_key_id, "ASIAHELD");
  EXPECT_EQ(b.bed.requests.size(), 2u);
  b.now_s = 60 * 60;  // expired, and STS still refuses
  c = b.get();
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().details.find("AccessDenied"), std::string::npos) << c.error().details;
  EXPECT_EQ(b.bed.requests.size(), 3u);
}

TEST(RoleCredentials, ConcurrentCallersOnSeveralThreadsShareOneRefresh) {
  RoleBed b;
  b.bed.respond = [](const std::string&) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // the others arrive meanwhile
    return sts_ok("ASIASHARED", t0() + std::chrono::hours(1));
  };
  std::atomic<int> ok{0};
  auto caller = [&]() -> awaitable<void> {
    auto c = co_await b.role.get(*b.bed.ctx, b.resolver, Millis(3000));
    if (c && c->access_key_id == "ASIASHARED") ++ok;
  };
  asio::io_context other;
  for (int i = 0; i < 4; ++i) asio::co_spawn(other, caller(), asio::detached);
  std::thread t([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // after the first caller started the refresh
    other.run();
  });
  b.bed.run([&]() -> awaitable<void> {
    for (int i = 0; i < 3; ++i) asio::co_spawn(b.bed.io, caller(), asio::detached);
    co_await caller();
    asio::steady_timer settle(b.bed.io, std::chrono::milliseconds(400));
    co_await settle.async_wait(nothrow_awaitable);
  });
  t.join();
  EXPECT_EQ(ok.load(), 8);
  EXPECT_EQ(b.bed.requests.size(), 1u);
  EXPECT_EQ(b.role.refreshes(), 1u);
}

TEST(RoleCredentials, ABrokenCredentialProcessIsNamed) {
  FetchBed bed;
  FixedResolver resolver;
  RoleCredentials role(role_config(bed), BaseCredentialSource::command("exit 7"));
  Expected<AwsCredentials, ProxyError> c = Unexpected{ProxyError{ProxyErrc::proxy_internal_error, "not run"}};
  bed.run([&]() -> awaitable<void> { c = co_await role.get(*bed.ctx, resolver, Millis(3000)); });
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().details.find("base credentials from credential_process `exit 7`"), std::string::npos)
      << c.error().details;
  EXPECT_TRUE(bed.requests.empty());
}

TEST(EcsEndpoint, JsonInTheContainerFormat) {
  AwsCredentials c;
  c.access_key_id = "ASIA1";
  c.secret_access_key = Secret("se\"cret");
  c.session_token = Secret("tok");
  c.expiration = t0();
  EXPECT_EQ(
      ecs_credentials_json(c),
      R"({"AccessKeyId":"ASIA1","SecretAccessKey":"se\"cret","Token":"tok","Expiration":"2026-12-03T12:00:00Z"})");
}

TEST(EcsEndpoint, TokenComparison) {
  EXPECT_TRUE(ecs_token_matches("abc", "abc"));
  EXPECT_FALSE(ecs_token_matches("abd", "abc"));
  EXPECT_FALSE(ecs_token_matches("abcd", "abc"));
  EXPECT_FALSE(ecs_token_matches("", ""));
}

TEST(EcsEndpoint, AnswersForTheRightTokenOnly) {
  RoleBed b;
  b.bed.respond = [](const std::string&) { return sts_ok("ASIAECS", t0() + std::chrono::hours(1)); };
  const auto authorized = [](std::string_view presented) { return ecs_token_matches(presented, "run-token"); };
  auto serve = [&](std::optional<std::string_view> auth) {
    EcsResponse r;
    b.bed.run([&]() -> awaitable<void> {
      r = co_await aws_credentials_for(b.role, auth, authorized, *b.bed.ctx, b.resolver, Millis(3000));
    });
    return r;
  };
  EcsResponse none = serve(std::nullopt);
  EXPECT_EQ(none.status, 401);
  EXPECT_EQ(none.body.rfind("{\"error\":\"missing Authorization", 0), 0u) << none.body;
  EcsResponse wrong = serve("other");
  EXPECT_EQ(wrong.status, 401);
  EXPECT_TRUE(b.bed.requests.empty());
  EcsResponse ok = serve("run-token");
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.body.rfind(R"({"AccessKeyId":"ASIAECS","SecretAccessKey":"role-secret","Token":"role-token",)", 0), 0u)
      << ok.body;

  b.now_s = 3600;  // expired: the refresh fails, and says why
  b.bed.respond = [](const std::string&) { return sts_denied(); };
  EcsResponse failed = serve("run-token");
  EXPECT_EQ(failed.status, 502);
  EXPECT_NE(failed.body.find("AccessDenied"), std::string::npos) << failed.body;
}

Expected<AwsRoleConfig> parse(std::string_view text) {
  auto t = toml::parse(text);
  return parse_aws_config(*t["profiles"]["ci"]["aws"].as_table(), "profiles.ci.aws");
}

TEST(AwsConfig, ParsesAndDefaults) {
  auto c = parse(R"(
[profiles.ci.aws]
role_arn = "arn:aws:iam::123456789012:role/demo"
region = "eu-west-1"
)");
  ASSERT_TRUE(c) << c.error();
  EXPECT_EQ(c->session_duration, std::chrono::hours(1));
  EXPECT_EQ(c->session_name, "ferry");
  EXPECT_TRUE(c->credential_process.empty());
  c = parse(R"(
[profiles.ci.aws]
role_arn = "arn:aws:iam::123456789012:role/demo"
region = "eu-west-1"
session_duration = "90m"
external_id = "x-1"
session_name = "ci-run"
credential_process = "${exec:/bin/creds --json}"
sts_endpoint = "https://127.0.0.1:8443"
)");
  ASSERT_TRUE(c) << c.error();
  EXPECT_EQ(c->session_duration, std::chrono::minutes(90));
  EXPECT_EQ(c->credential_process, "/bin/creds --json");
  EXPECT_EQ(c->sts_endpoint, "https://127.0.0.1:8443");
  EXPECT_EQ(c->external_id, "x-1");
  EXPECT_EQ(parse("[profiles.ci.aws]\nrole_arn='arn:aws:iam::1:role/r'\nregion='us-east-1'\nsession_duration=900\n")
                ->session_duration,
            std::chrono::seconds(900));
}

TEST(AwsConfig, ErrorsNameTheKey) {
  const std::string base = "[profiles.ci.aws]\nrole_arn = \"arn:aws:iam::1:role/r\"\nregion = \"us-east-1\"\n";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {base + "rolearn = 'x'\n", "profiles.ci.aws.rolearn: unknown key"},
      {"[profiles.ci.aws]\nregion = 'us-east-1'\n", "profiles.ci.aws.role_arn: missing"},
      {"[profiles.ci.aws]\nrole_arn = 'arn:aws:iam::1:role/r'\n", "profiles.ci.aws.region: missing"},
      {"[profiles.ci.aws]\nrole_arn = 'nope'\nregion = 'us-east-1'\n", "profiles.ci.aws.role_arn: 'nope' is not"},
      {base + "session_duration = '10m'\n", "profiles.ci.aws.session_duration: must be between"},
      {base + "session_duration = 'soon'\n", "profiles.ci.aws.session_duration: "},
      {base + "session_name = 'a b'\n", "profiles.ci.aws.session_name: "},
      {base + "sts_endpoint = 'ftp://x'\n", "profiles.ci.aws.sts_endpoint: 'ftp://x' is not an http(s) URL"},
      {base + "external_id = 5\n", "profiles.ci.aws.external_id: must be a string"},
      {base + "credential_process = ''\n", "profiles.ci.aws.credential_process: empty"},
      {"[profiles.ci.aws]\nrole_arn = 'arn:aws:iam::1:role/r'\nregion = 'US East'\n", "profiles.ci.aws.region: "},
  };
  for (const auto& [text, want] : cases) {
    auto c = parse(text);
    ASSERT_FALSE(c) << text;
    EXPECT_EQ(c.error().rfind(want, 0), 0u) << c.error();
  }
}

}  // namespace
}  // namespace ferry::aws
