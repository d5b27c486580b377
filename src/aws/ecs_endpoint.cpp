#include "aws/ecs_endpoint.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "aws/aws_time.h"
#include "log/event_log.h"

namespace ferry::aws {

std::string ecs_credentials_json(const AwsCredentials& c) {
  std::string out = "{\"AccessKeyId\":" + json_quote(c.access_key_id);
  out += ",\"SecretAccessKey\":";
  std::string quoted = json_quote(c.secret_access_key.view());
  out += quoted;
  cleanse_string(quoted);
  if (!c.session_token.empty()) {
    out += ",\"Token\":";
    quoted = json_quote(c.session_token.view());
    out += quoted;
    cleanse_string(quoted);
  }
  if (c.expiration) out += ",\"Expiration\":\"" + format_iso8601(*c.expiration) + "\"";
  out += "}";
  return out;
}

bool ecs_token_matches(std::string_view presented, std::string_view expected) {
  if (presented.empty() || expected.empty()) return false;
  unsigned char a[SHA256_DIGEST_LENGTH], b[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(presented.data()), presented.size(), a);
  SHA256(reinterpret_cast<const unsigned char*>(expected.data()), expected.size(), b);
  const bool same = CRYPTO_memcmp(a, b, sizeof a) == 0;
  OPENSSL_cleanse(a, sizeof a);
  OPENSSL_cleanse(b, sizeof b);
  return same;
}

EcsResponse::~EcsResponse() { cleanse_string(body); }

EcsResponse ecs_error(int status, std::string_view message) {
  return EcsResponse(status, "{\"error\":" + json_quote(message) + "}");
}

awaitable<EcsResponse> aws_credentials_for(std::optional<std::string_view> authorization, const EcsRoleLookup& lookup,
                                           const UpstreamContext& ctx, ProxyResolver& resolver, Millis timeout) {
  if (!authorization || authorization->empty())
    co_return ecs_error(401, "missing Authorization: send the run's token (AWS_CONTAINER_AUTHORIZATION_TOKEN)");
  RoleCredentials* role = lookup(*authorization);
  if (!role) co_return ecs_error(401, "the Authorization token is not valid for AWS credentials");
  Expected<AwsCredentials, ProxyError> got = co_await role->get(ctx, resolver, timeout);
  if (!got) co_return ecs_error(got.error().http_status(), got.error().details);
  co_return EcsResponse(200, ecs_credentials_json(*got));
}

awaitable<EcsResponse> aws_credentials_for(RoleCredentials& role, std::optional<std::string_view> authorization,
                                           const std::function<bool(std::string_view presented)>& authorized,
                                           const UpstreamContext& ctx, ProxyResolver& resolver, Millis timeout) {
  const EcsRoleLookup lookup = [&](std::string_view presented) { return authorized(presented) ? &role : nullptr; };
  EcsResponse r = co_await aws_credentials_for(authorization, lookup, ctx, resolver, timeout);
  co_return r;
}

}  // namespace ferry::aws
