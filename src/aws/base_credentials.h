#pragma once
// The credentials ferry signs AssumeRole with (a profile's base source):
//
//   credential_process = "COMMAND"  `/bin/sh -c COMMAND`, run as ${exec:…}
//                                   is (intercept/command_output: own process
//                                   group, no inherited descriptors, 10 s
//                                   timeout), its stdout the JSON of AWS's
//                                   credential_process format:
//       {"Version": 1, "AccessKeyId": "…", "SecretAccessKey": "…",
//        "SessionToken": "…", "Expiration": "2026-12-03T20:30:05Z"}
//                                   (SessionToken and Expiration optional);
//   or the process environment      AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
//                                   AWS_SESSION_TOKEN (optional), read when
//                                   the source is made (a missing variable is
//                                   a configuration error at start).
//
// Errors name the command or the variable, never a value.
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "aws/aws_credentials.h"
#include "base/duration.h"
#include "base/expected.h"

namespace ferry::aws {

// Output of a credential_process, checked: Version 1, non-empty key id and
// secret, a valid Expiration when present. Errors name the member at
// fault ("\"Version\" must be 1"), never a value.
Expected<AwsCredentials> parse_credential_process_output(std::string_view json);

class BaseCredentialSource {
 public:
  using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;

  static BaseCredentialSource command(std::string command, Millis timeout = Millis(10'000));
  static Expected<BaseCredentialSource> environment(const EnvLookup& env);

  // The credentials now. For a command this runs it and blocks: call it
  // off the event loop (off_loop with may_block()).
  Expected<AwsCredentials> fetch() const;
  bool may_block() const { return !command_.empty(); }
  // "credential_process `COMMAND`" or "the environment (AWS_ACCESS_KEY_ID)".
  std::string describe() const;

 private:
  std::string command_;  // empty: the environment's credentials below
  Millis timeout_{10'000};
  AwsCredentials env_;
};

}  // namespace ferry::aws
