#pragma once
// ISO 8601 UTC times as AWS writes them: "2026-12-03T19:30:05Z", with
// optional fractional seconds and "Z" or a numeric offset on input.
#include <string>
#include <string_view>

#include "aws/aws_credentials.h"
#include "base/expected.h"

namespace ferry::aws {

Expected<SystemTime> parse_iso8601(std::string_view text);
// "2026-12-03T19:30:05Z" (whole seconds, UTC).
std::string format_iso8601(SystemTime t);

}  // namespace ferry::aws
