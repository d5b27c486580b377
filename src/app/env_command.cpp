#include "app/env_command.h"

#include <iostream>

#include "base/shell_quote.h"
#include "control/client_environment.h"
#include "intercept/certificate_authority.h"
#include "routing/route_table.h"

namespace ferry {

int run_env(const Config& config) {
  ClientEnvironmentSpec spec;
  spec.proxy_url = "http://" + client_address(config.listen.front());
  if (!config.socks_listen.empty()) spec.socks_url = "socks5h://" + client_address(config.socks_listen.front());
  // Interception on (inject rules): the CA variables too.
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
    spec.ca_dir = dir;
  }
  for (const auto& [name, value] : client_environment(spec))
    std::cout << "export " << name << "=" << shell_quote(value) << "\n";
  return 0;
}

}  // namespace ferry
