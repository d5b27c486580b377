#pragma once
#include "config/config.h"

namespace ferry {
// `ferry token [--spn SPN] [--upstream URL]`: prints one "Negotiate <base64>"
// value for the SPN (default HTTP@<first upstream host>).
int run_token(const Config& config);
}  // namespace ferry
