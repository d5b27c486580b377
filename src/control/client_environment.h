#pragma once
// The environment that points a client at ferry (`ferry env`, and the `env`
// of a run from POST /v1/runs): the proxy variables in both spellings (curl
// reads only the lower-case http_proxy, other tools only the upper-case),
// NO_PROXY for local traffic, and with interception the variables that make
// clients trust ferry's CA.
#include <string>
#include <utility>
#include <vector>

#include "base/host_port.h"

namespace ferry {

// Local traffic skips ferry (it would go direct anyway).
inline constexpr const char* kLocalNoProxy = "localhost,127.0.0.1,::1";

struct ClientEnvironmentSpec {
  std::string proxy_url;  // "http://127.0.0.1:3128" or "http://run:TOKEN@127.0.0.1:3128"
  std::string socks_url;  // "socks5h://…"; empty: no ALL_PROXY
  std::string no_proxy = kLocalNoProxy;
  std::string ca_dir;  // the interception CA's directory; empty: interception off
};

// In a fixed order: HTTP_PROXY, HTTPS_PROXY, http_proxy, https_proxy,
// [ALL_PROXY, all_proxy,] NO_PROXY, no_proxy, [the CA variables of
// ca_environment()].
std::vector<std::pair<std::string, std::string>> client_environment(const ClientEnvironmentSpec& spec);

// How a client on this machine reaches a listener: a wildcard address
// (0.0.0.0, ::) through loopback. "host:port", IPv6 in brackets.
std::string client_address(const HostPort& listener);

}  // namespace ferry
