#pragma once
#include <chrono>
#include <string>
#include <string_view>

#include "base/expected.h"

namespace ferry {

using Millis = std::chrono::milliseconds;

// "250ms", "10s", "5m", "1h", a bare number of seconds, or "0".
Expected<Millis> parse_duration(std::string_view text);
std::string format_duration(Millis d);

}  // namespace ferry
