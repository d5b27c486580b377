#pragma once
#include "config/config.h"

namespace ferry {
// Runs the proxy until SIGINT/SIGTERM. Returns the exit code.
int run_serve(const Config& config);
}  // namespace ferry
