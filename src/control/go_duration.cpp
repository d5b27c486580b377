#include "control/go_duration.h"

#include <cstdint>
#include <string>

namespace ferry {

namespace {

constexpr uint64_t kLimitMs = uint64_t(1) << 50;  // ~35,000 years: far past any TTL cap

bool is_digit(char c) { return c >= '0' && c <= '9'; }

uint64_t unit_ms(std::string_view unit) {
  if (unit == "ms") return 1;
  if (unit == "s") return 1000;
  if (unit == "m") return 60'000;
  if (unit == "h") return 3'600'000;
  if (unit == "d") return 86'400'000;
  return 0;
}

}  // namespace

Expected<Millis> parse_go_duration(std::string_view text) {
  const auto bad = [&](const char* why) {
    return fail("'" + std::string(text) + "' is not a duration (" + why + "; use e.g. 90s, 10m, 1h30m)");
  };
  if (text.empty()) return bad("empty");
  // Not quoted when long: an error should not repeat a megabyte of input.
  if (text.size() > 40) return fail("the duration is not valid (longer than 40 characters; use e.g. 90s, 10m, 1h30m)");
  // A bare number: seconds.
  if (text.find_first_not_of("0123456789") == std::string_view::npos) {
    if (text.size() > 15) return bad("too long");
    return Millis(std::stoll(std::string(text)) * 1000);
  }
  uint64_t total = 0;
  size_t i = 0;
  while (i < text.size()) {
    uint64_t whole = 0;
    size_t digits = 0;
    for (; i < text.size() && is_digit(text[i]); ++i, ++digits) {
      if (whole > kLimitMs) return bad("too long");
      whole = whole * 10 + uint64_t(text[i] - '0');
    }
    uint64_t frac = 0, frac_scale = 1;
    size_t frac_digits = 0;
    if (i < text.size() && text[i] == '.') {
      for (++i; i < text.size() && is_digit(text[i]); ++i, ++frac_digits) {
        // Digits past millisecond precision of a day change nothing.
        if (frac_scale < 1'000'000'000) {
          frac = frac * 10 + uint64_t(text[i] - '0');
          frac_scale *= 10;
        }
      }
    }
    if (digits == 0 && frac_digits == 0) return bad("a number must come before each unit");
    const size_t unit_start = i;
    while (i < text.size() && !is_digit(text[i]) && text[i] != '.') ++i;
    const std::string_view unit = text.substr(unit_start, i - unit_start);
    if (unit.empty()) return bad("a unit must follow each number");
    const uint64_t ms = unit_ms(unit);
    if (ms == 0) return bad("units are ms, s, m, h and d");
    if (whole > kLimitMs / ms) return bad("too long");
    total += whole * ms + frac * ms / frac_scale;
    if (total > kLimitMs) return bad("too long");
  }
  return Millis(int64_t(total));
}

}  // namespace ferry
