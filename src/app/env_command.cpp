#include "app/env_command.h"

#include <iostream>

#include "base/shell_quote.h"
#include "intercept/certificate_authority.h"
#include "routing/route_table.h"

namespace ferry {

namespace {

// A wildcard listener is reached through loopback.
std::string client_address(const HostPort& l) {
  if (l.host == "0.0.0.0") return "127.0.0.1:" + std::to_string(l.port);
  if (l.host == "::") return "[::1]:" + std::to_string(l.port);
  return l.to_string();
}

}  // namespace

int run_env(const Config& config) {
  const std::string proxy = "http://" + client_address(config.listen.front());
  // Local traffic skips ferry (it would go direct anyway); both spellings,
  // since curl reads only the lowercase http_proxy and others only uppercase.
  const std::string no_proxy = "localhost,127.0.0.1,::1";
  for (const char* name : {"HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"})
    std::cout << "export " << name << "=" << proxy << "\n";
  if (!config.socks_listen.empty()) {
    const std::string socks = "socks5h://" + client_address(config.socks_listen.front());
    std::cout << "export ALL_PROXY=" << socks << "\nexport all_proxy=" << socks << "\n";
  }
  std::cout << "export NO_PROXY=" << no_proxy << "\nexport no_proxy=" << no_proxy << "\n";
  // Interception on (inject rules): clients must trust ferry's CA for the
  // intercepted hosts, and keep trusting the system's for the others.
  if (!config.inject.empty()) {
    std::string dir = config.interception.ca_dir;
    if (dir.empty()) {
      auto d = default_ca_dir(process_env());
      if (!d) {
        std::cerr << "ferry env: " << d.error() << "\n";
        return 2;
      }
      dir = *d;
    }
    for (const auto& [name, value] : ca_environment(dir))
      std::cout << "export " << name << "=" << shell_quote(value) << "\n";
  }
  return 0;
}

}  // namespace ferry
