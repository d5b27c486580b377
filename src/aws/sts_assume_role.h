#pragma once
// STS AssumeRole (query API, POST form body, SigV4 for service "sts"),
// sent along ferry's route with https_fetch, and its XML answer.
// https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html
#include <chrono>
#include <string>
#include <string_view>

#include "aws/aws_credentials.h"
#include "base/duration.h"
#include "base/expected.h"
#include "base/proxy_error.h"
#include "net/asio.h"
#include "net/https_fetch.h"

namespace ferry::aws {

struct AssumeRoleParams {
  std::string role_arn;
  std::string region;
  std::string session_name = "ferry";
  std::chrono::seconds duration{3600};
  std::string external_id;   // empty: not sent
  std::string sts_endpoint;  // empty: https://sts.<region>.amazonaws.com/
};

// The URL the call goes to.
std::string sts_url(const AssumeRoleParams& p);
// The form body (names and values percent-encoded as SigV4 encodes them).
std::string assume_role_body(const AssumeRoleParams& p);
// The signed request (base credentials, signing time).
Expected<HttpRequest> assume_role_request(const AssumeRoleParams& p, const AwsCredentials& base, SystemTime now);

// An answer of STS: the credentials of a 200 AssumeRoleResponse, else an
// error naming the status and STS's Error/Code and Message. Malformed XML,
// missing fields or a bad Expiration are errors too. Errors never carry the
// secret or the token (only the access key id may be named).
Expected<AwsCredentials> parse_assume_role_response(int status, std::string_view body);

// The whole call. Errors: ProxyError (http_request_denied for STS's own
// refusals, the fetch's errors otherwise); details name the role and STS's
// words, never a secret.
awaitable<Expected<AwsCredentials, ProxyError>> sts_assume_role(const UpstreamContext& ctx, ProxyResolver& resolver,
                                                                const AssumeRoleParams& params,
                                                                const AwsCredentials& base, Millis timeout);

}  // namespace ferry::aws
