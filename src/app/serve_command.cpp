#include "app/serve_command.h"

#include <csignal>
#include <iostream>

#include "routing/route_table.h"
#include "server/proxy_server.h"
#include "upstream/upstream_runtime.h"

namespace ferry {

std::vector<std::string> listener_names(const Config& config) {
  std::vector<std::string> own;
  for (const auto& l : config.listen) own.push_back(l.to_string());
  for (const auto& l : config.socks_listen) own.push_back(l.to_string());
  return own;
}

int run_serve(const Config& config) {
  // A client that disappears mid-write must not kill the process.
  std::signal(SIGPIPE, SIG_IGN);
  auto upstreams = build_upstream_runtime(config, process_env(), listener_names(config));
  if (!upstreams) {
    std::cerr << "ferry: " << upstreams.error() << "\n";
    return 2;
  }
  const uint64_t fd_limit = raise_fd_limit();
  EventLog log(config.log_format, config.log_level);
  for (const auto& w : (*upstreams)->warnings) log.log(LogLevel::warn, "env_proxy_ignored", {{"details", w}});
  ProxyServer server(config, log, **upstreams);
  auto bound = server.bind();
  if (!bound) {
    log.log(LogLevel::error, "startup_failed", {{"error", bound.error()}});
    log.flush();
    std::cerr << "ferry: " << bound.error() << "\n";
    return 1;
  }
  log.log(LogLevel::debug, "fd_limit", {{"nofile", fd_limit}});
  log.log(LogLevel::info, "routes", {{"rules", (*upstreams)->routes.to_string()}});
  const int rc = server.run();
  // GSSAPI jobs still running write into session frames the server owns:
  // let them finish before it is destroyed.
  (*upstreams)->blocking.stop();
  (*upstreams)->blocking.join();
  return rc;
}

}  // namespace ferry
