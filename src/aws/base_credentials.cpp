#include "aws/base_credentials.h"

#include "aws/aws_time.h"
#include "aws/flat_json.h"
#include "intercept/command_output.h"

namespace ferry::aws {

namespace {

constexpr size_t kMaxOutputBytes = 64 * 1024;

}  // namespace

Expected<AwsCredentials> parse_credential_process_output(std::string_view json) {
  auto obj = FlatJsonObject::parse(json);
  if (!obj) return fail(obj.error());
  const auto string_member = [&](std::string_view key) -> const FlatJsonValue* {
    const FlatJsonValue* v = obj->get(key);
    return v && v->kind == FlatJsonValue::Kind::string ? v : nullptr;
  };
  const FlatJsonValue* version = obj->get("Version");
  if (!version || version->kind != FlatJsonValue::Kind::number || version->text != "1")
    return fail("\"Version\" must be 1");
  const FlatJsonValue* id = string_member("AccessKeyId");
  const FlatJsonValue* secret = string_member("SecretAccessKey");
  if (!id || id->text.empty()) return fail("\"AccessKeyId\" missing or not a string");
  if (!secret || secret->text.empty()) return fail("\"SecretAccessKey\" missing or not a string");
  AwsCredentials c;
  c.access_key_id = id->text;
  c.secret_access_key = Secret(secret->text);
  if (const FlatJsonValue* token = obj->get("SessionToken"); token && token->kind != FlatJsonValue::Kind::null) {
    if (token->kind != FlatJsonValue::Kind::string) return fail("\"SessionToken\" must be a string");
    c.session_token = Secret(token->text);
  }
  if (const FlatJsonValue* exp = obj->get("Expiration"); exp && exp->kind != FlatJsonValue::Kind::null) {
    if (exp->kind != FlatJsonValue::Kind::string) return fail("\"Expiration\" must be a string");
    auto when = parse_iso8601(exp->text);
    if (!when) return fail("\"Expiration\": " + when.error());
    c.expiration = *when;
  }
  return c;
}

BaseCredentialSource BaseCredentialSource::command(std::string command, Millis timeout) {
  BaseCredentialSource s;
  s.command_ = std::move(command);
  s.timeout_ = timeout;
  return s;
}

Expected<BaseCredentialSource> BaseCredentialSource::environment(const EnvLookup& env) {
  BaseCredentialSource s;
  auto id = env("AWS_ACCESS_KEY_ID");
  auto secret = env("AWS_SECRET_ACCESS_KEY");
  if (!id || id->empty()) return fail("environment variable AWS_ACCESS_KEY_ID is not set");
  if (!secret || secret->empty()) {
    if (secret) cleanse_string(*secret);
    return fail("environment variable AWS_SECRET_ACCESS_KEY is not set");
  }
  s.env_.access_key_id = std::move(*id);
  s.env_.secret_access_key = Secret(std::move(*secret));
  if (auto token = env("AWS_SESSION_TOKEN"); token && !token->empty()) s.env_.session_token = Secret(std::move(*token));
  return s;
}

Expected<AwsCredentials> BaseCredentialSource::fetch() const {
  if (command_.empty()) return env_;
  auto out = run_command_output(command_, timeout_, kMaxOutputBytes);
  if (!out) return fail("credential_process: " + out.error());
  auto creds = parse_credential_process_output(*out);
  cleanse_string(*out);
  if (!creds) return fail(describe() + " printed no valid credentials: " + creds.error());
  return creds;
}

std::string BaseCredentialSource::describe() const {
  return command_.empty() ? "the environment (AWS_ACCESS_KEY_ID)" : "credential_process `" + command_ + "`";
}

}  // namespace ferry::aws
