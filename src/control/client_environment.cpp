#include "control/client_environment.h"

#include "intercept/certificate_authority.h"

namespace ferry {

std::vector<std::pair<std::string, std::string>> client_environment(const ClientEnvironmentSpec& spec) {
  std::vector<std::pair<std::string, std::string>> env;
  for (const char* name : {"HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"})
    env.emplace_back(name, spec.proxy_url);
  if (!spec.socks_url.empty()) {
    env.emplace_back("ALL_PROXY", spec.socks_url);
    env.emplace_back("all_proxy", spec.socks_url);
  }
  env.emplace_back("NO_PROXY", spec.no_proxy);
  env.emplace_back("no_proxy", spec.no_proxy);
  // Interception on: clients must trust ferry's CA for the intercepted
  // hosts, and keep trusting the system's for the others.
  if (!spec.ca_dir.empty())
    for (auto& var : ca_environment(spec.ca_dir)) env.push_back(std::move(var));
  return env;
}

std::string client_address(const HostPort& l) {
  if (l.host == "0.0.0.0") return "127.0.0.1:" + std::to_string(l.port);
  if (l.host == "::") return "[::1]:" + std::to_string(l.port);
  return l.to_string();
}

}  // namespace ferry
