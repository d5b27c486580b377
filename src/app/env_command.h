#pragma once
#include "config/config.h"

namespace ferry {
// `ferry env`: prints shell exports that point tools at ferry's listener.
int run_env(const Config& config);
}  // namespace ferry
