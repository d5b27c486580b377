#pragma once
#include "config/config.h"

namespace ferry {
// `ferry check`: configuration, Kerberos credentials and KDCs, and for each
// upstream: reachable, which schemes it offers, whether ferry's auth passes.
// Exit 0 only if every check passes.
int run_check(const Config& config);
}  // namespace ferry
