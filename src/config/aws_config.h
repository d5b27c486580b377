#pragma once
// A profile's [profiles.NAME.aws] table (SPEC §7 "AWS") into an AwsRoleConfig:
//
//   [profiles.ci.aws]
//   role_arn = "arn:aws:iam::123456789012:role/demo"   # required
//   region = "us-east-1"                                # required
//   session_duration = "1h"      # or seconds (900..43200); default 1h
//   external_id = "…"            # optional
//   session_name = "ferry"       # default "ferry"
//   credential_process = "aws-vault export --format=json x"   # or "${exec:…}";
//                                # absent: AWS_ACCESS_KEY_ID/… from ferry's environment
//   sts_endpoint = "https://sts.example:8443/"   # optional override (tests, VPC endpoints)
//
// Unknown keys and bad values are errors starting with the key path:
//   profiles.ci.aws.region: missing
// (no file name: the caller prefixes its file, as for [policy]).
#include <toml++/toml.h>

#include <string_view>

#include "aws/role_credentials.h"
#include "base/expected.h"

namespace ferry {

// `where`: the table's key path ("profiles.ci.aws"), which starts every error.
Expected<aws::AwsRoleConfig> parse_aws_config(const toml::table& table, std::string_view where);

}  // namespace ferry
