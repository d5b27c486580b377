#include "app/serve_command.h"

#include <csignal>
#include <iostream>

#include "server/proxy_server.h"

namespace ferry {

int run_serve(const Config& config) {
  // A client that disappears mid-write must not kill the process.
  std::signal(SIGPIPE, SIG_IGN);
  const uint64_t fd_limit = raise_fd_limit();
  EventLog log(config.log_format, config.log_level);
  ProxyServer server(config, log);
  auto bound = server.bind();
  if (!bound) {
    log.log(LogLevel::error, "startup_failed", {{"error", bound.error()}});
    log.flush();
    std::cerr << "ferry: " << bound.error() << "\n";
    return 1;
  }
  log.log(LogLevel::debug, "fd_limit", {{"nofile", fd_limit}});
  return server.run();
}

}  // namespace ferry
