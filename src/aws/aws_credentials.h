#pragma once
// One set of AWS credentials: an access key id, its secret and, for
// temporary credentials, a session token and their expiry. The secret and
// the token are Secrets (wiped when dropped); the key id is not secret (AWS
// logs it, and it names the credentials in errors).
#include <chrono>
#include <optional>
#include <string>

#include "base/secret.h"

namespace ferry::aws {

using SystemTime = std::chrono::system_clock::time_point;

struct AwsCredentials {
  std::string access_key_id;
  Secret secret_access_key;
  Secret session_token;                  // empty for long-term keys
  std::optional<SystemTime> expiration;  // none: does not expire
};

}  // namespace ferry::aws
