#pragma once
// Durations as Go's time.ParseDuration writes them ("90s", "10m",
// "1h30m", "1.5h", "500ms"), the form moat and other Go tools print, plus
// "d" for days and a bare number of seconds ("600"). A run's TTL (SPEC §7)
// is given this way in `POST /v1/runs` and `ferry run --ttl`.
#include <string_view>

#include "base/duration.h"
#include "base/expected.h"

namespace ferry {

// Units: ms, s, m, h, d; each element a decimal number (with an optional
// fraction) and a unit; elements add up. No sign, no spaces. Errors quote
// the text (a TTL is not a secret).
Expected<Millis> parse_go_duration(std::string_view text);

}  // namespace ferry
