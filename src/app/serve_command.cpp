#include "app/serve_command.h"

#include <csignal>
#include <iostream>

#include "routing/route_table.h"
#include "server/proxy_server.h"

namespace ferry {

namespace {

// Upstream proxies are not supported by this version: say so when the
// environment names one, rather than silently going direct.
void warn_about_env_proxies(EventLog& log) {
  auto getenv = process_env();
  for (const char* name : {"http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"}) {
    auto v = getenv(name);
    if (!v || v->empty()) continue;
    // The value may hold credentials: name the variable, never print it.
    log.log(LogLevel::warn, "env_proxy_ignored",
            {{"variable", name}, {"details", "upstream proxies are not supported by this version; traffic goes direct"}});
  }
}

}  // namespace

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
  warn_about_env_proxies(log);
  return server.run();
}

}  // namespace ferry
