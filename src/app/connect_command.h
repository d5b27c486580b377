#pragma once
#include <string>

#include "config/config.h"

namespace ferry {
// `ferry connect HOST:PORT`: stdin/stdout <-> a TCP connection to HOST:PORT
// along ferry's route (ssh -o ProxyCommand='ferry connect %h:%p').
int run_connect(const Config& config, const std::string& target);
}  // namespace ferry
