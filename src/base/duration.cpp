#include "base/duration.h"

#include <charconv>

namespace ferry {

Expected<Millis> parse_duration(std::string_view text) {
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc())
    return fail("'" + std::string(text) + "' is not a duration (use e.g. 500ms, 10s, 5m, 1h)");
  std::string_view unit(end, text.data() + text.size() - end);
  uint64_t ms_per_unit = 0;
  if (unit.empty() || unit == "s") ms_per_unit = 1000;
  else if (unit == "ms") ms_per_unit = 1;
  else if (unit == "m") ms_per_unit = 60'000;
  else if (unit == "h") ms_per_unit = 3'600'000;
  else return fail("'" + std::string(text) + "' has an unknown unit (use ms, s, m or h)");
  if (value > (uint64_t(1) << 40) / ms_per_unit) return fail("'" + std::string(text) + "' is too long");
  return Millis(value * ms_per_unit);
}

std::string format_duration(Millis d) {
  auto ms = d.count();
  if (ms % 3'600'000 == 0 && ms) return std::to_string(ms / 3'600'000) + "h";
  if (ms % 60'000 == 0 && ms) return std::to_string(ms / 60'000) + "m";
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

}  // namespace ferry
