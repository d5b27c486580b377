#pragma once
#include "config/config.h"

#include <string>
#include <vector>

namespace ferry {
// "host:port" of every listener in the config (for the self-loop check).
std::vector<std::string> listener_names(const Config& config);
// Runs the proxy until SIGINT/SIGTERM. Returns the exit code.
int run_serve(const Config& config);
}  // namespace ferry
