#pragma once
#include <string>

#include "config/config.h"

namespace ferry {
// `ferry route URL [--json]`: prints the route ferry would take and why.
int run_route(const Config& config, const std::string& url, bool json);
}  // namespace ferry
