#include "app/token_command.h"

#include <iostream>

#include "auth/basic_auth.h"
#include "routing/route_table.h"
#include "upstream/upstream_runtime.h"

namespace ferry {

int run_token(const Config& config) {
  auto rt = build_upstream_runtime(config, process_env(), {});
  if (!rt) {
    std::cerr << "ferry token: " << rt.error() << "\n";
    return 2;
  }
  std::string spn = config.spn;
  if (spn.empty()) {
    // The first upstream the route table would use for a tunnel.
    const auto d = (*rt)->routes.route(TrafficKind::tunnel, "ferry-token.invalid", 443);
    if (!d.direct) spn = "HTTP@" + d.proxies.front().address.host;
  }
  if (spn.empty()) {
    std::cerr << "ferry token: give --spn HTTP@proxy.host, or --upstream URL to take the host from\n";
    return 2;
  }
  if (!(*rt)->negotiate) {
    std::cerr << "ferry token: Negotiate is off (--auth " << auth_mode_name(config.auth) << ")\n";
    return 2;
  }
  auto ctx = (*rt)->negotiate->start(spn);
  auto token = ctx->step({});
  if (!token) {
    std::cerr << "ferry token: " << spn << ": " << token.error().words << "\n";
    if (config.log_level == LogLevel::debug) std::cerr << "ferry token: " << token.error().debug << "\n";
    return 1;
  }
  std::cout << "Negotiate " << auth::base64_encode(*token) << "\n";
  return 0;
}

}  // namespace ferry
