#pragma once
// AWS Signature Version 4 (header form), computed with OpenSSL:
// https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html
// The canonical request follows the spec as botocore's SigV4Auth builds it
// for non-S3 services (the unit tests compare with botocore's own output):
// the path URI-encoded once more ('/' kept, so "%2F" becomes "%252F"), the
// query's names and values encoded and sorted, header names lower-cased,
// values trimmed with inner runs of spaces collapsed, repeated names joined
// with ','. The payload hash is SHA-256 of the body (no
// X-Amz-Content-Sha256 field: STS does not want one).
#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "aws/aws_credentials.h"

namespace ferry::aws {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

struct SigningRequest {
  std::string_view method = "GET";
  std::string_view host;        // the Host field's value ("sts.us-east-1.amazonaws.com", "127.0.0.1:8443")
  std::string_view path = "/";  // as sent, before the '?'
  // Decoded name/value pairs; encoded and sorted here. The caller sends the
  // same pairs encoded with uri_encode(…, true).
  std::vector<std::pair<std::string, std::string>> query;
  HeaderList headers;  // fields the request carries besides Host (all are signed)
  std::string_view payload;
};

struct SigningScope {
  std::string region;
  std::string service;
};

// The fields to add to the request: X-Amz-Date, X-Amz-Security-Token when
// the credentials carry a session token, and Authorization (last). The
// Authorization value and the token are secrets only in the sense that they
// grant access until the time passes: callers keep them out of logs.
HeaderList sigv4_sign(const SigningRequest& req, const SigningScope& scope, const AwsCredentials& creds,
                      std::chrono::system_clock::time_point now);

// The pieces, for tests and for checking a signature.
std::string sigv4_canonical_request(const SigningRequest& req, const HeaderList& extra_signed);
std::string amz_date(std::chrono::system_clock::time_point t);  // "20150830T123600Z"

// RFC 3986 percent-encoding as SigV4 wants it: unreserved characters
// (A-Z a-z 0-9 - _ . ~) stay, everything else becomes %XX (upper-case hex);
// '/' stays too unless `encode_slash`.
std::string uri_encode(std::string_view s, bool encode_slash);

// Lower-case hex of SHA-256(data).
std::string sha256_hex(std::string_view data);

}  // namespace ferry::aws
