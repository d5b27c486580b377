#pragma once
// ferry's AWS container-credentials endpoint (SPEC §7 "AWS"):
// GET http://<ferry>/_ferry/aws/credentials with `Authorization: TOKEN`
// (what AWS SDKs send from AWS_CONTAINER_AUTHORIZATION_TOKEN, as it is,
// no scheme) answers the profile's assumed-role credentials in the ECS
// container format:
//   {"AccessKeyId":"…","SecretAccessKey":"…","Token":"…","Expiration":"2026-12-03T20:30:05Z"}
// Errors are JSON too: {"error":"…"} with 401 (no or wrong token, or a
// profile without [aws]), else the refresh's status (502, 504).
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "aws/role_credentials.h"

namespace ferry::aws {

inline constexpr std::string_view kEcsCredentialsPath = "/_ferry/aws/credentials";

// The ECS container JSON of `c` (Token omitted when there is none,
// Expiration when it does not expire). Holds secrets: wipe it after use.
std::string ecs_credentials_json(const AwsCredentials& c);

// Constant-time comparison of a presented token with the expected one
// (SHA-256 of both, then CRYPTO_memcmp: neither the content nor the length
// leaks through timing). Empty never matches.
bool ecs_token_matches(std::string_view presented, std::string_view expected);

struct EcsResponse {
  int status = 200;
  std::string body;  // JSON; with status 200 it holds credentials
  std::string_view content_type = "application/json";
  EcsResponse() = default;
  EcsResponse(int s, std::string b) : status(s), body(std::move(b)) {}
  EcsResponse(EcsResponse&&) = default;
  EcsResponse& operator=(EcsResponse&&) = default;
  ~EcsResponse();  // wipes the body
};

EcsResponse ecs_error(int status, std::string_view message);

// The presented token's role: null when the token is unknown or its
// profile has no [aws] (both answered 401, alike). The lead's lookup runs
// the client-token store's constant-time check.
using EcsRoleLookup = std::function<RoleCredentials*(std::string_view presented_token)>;

// Serves one request to kEcsCredentialsPath. `authorization`: the request's
// Authorization value (nullopt when absent). The caller sends
// `Content-Type: application/json`, `Cache-Control: no-store` and the body.
awaitable<EcsResponse> aws_credentials_for(std::optional<std::string_view> authorization, const EcsRoleLookup& lookup,
                                           const UpstreamContext& ctx, ProxyResolver& resolver, Millis timeout);

// The same for one known role guarded by a check of the token.
awaitable<EcsResponse> aws_credentials_for(RoleCredentials& role, std::optional<std::string_view> authorization,
                                           const std::function<bool(std::string_view presented)>& authorized,
                                           const UpstreamContext& ctx, ProxyResolver& resolver, Millis timeout);

}  // namespace ferry::aws
