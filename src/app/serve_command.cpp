#include "app/serve_command.h"

#include <sys/prctl.h>
#include <sys/resource.h>

#include <csignal>
#include <iostream>

#include "routing/route_table.h"
#include "server/client_token_setup.h"
#include "server/interception_setup.h"
#include "server/proxy_server.h"
#include "server/runs_setup.h"
#include "upstream/upstream_runtime.h"

namespace ferry {

std::vector<std::string> listener_names(const Config& config) {
  std::vector<std::string> own;
  for (const auto& l : config.listen) own.push_back(l.to_string());
  for (const auto& l : config.socks_listen) own.push_back(l.to_string());
  return own;
}

namespace {

// ferry holds the upstream password (and Kerberos keys, Negotiate tokens)
// in memory for its whole life; SPEC §5 keeps secrets out of core dumps.
// Not dumpable: no core file on a crash (and no ptrace/gcore or
// /proc/PID/mem by other processes of the same user); RLIMIT_CORE 0 as well,
// for a core pattern that pipes to a handler. Done before the password is read.
void disable_core_dumps() {
  ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  struct rlimit none {
    0, 0
  };
  ::setrlimit(RLIMIT_CORE, &none);
}

}  // namespace

int run_serve(const Config& config) {
  // A client that disappears mid-write must not kill the process.
  std::signal(SIGPIPE, SIG_IGN);
  // A fixed tunnel asks nobody for a token, and client tokens widen the
  // default --allow: together they would be an open relay.
  if (config.tunnel_target && !config.client_tokens_file.empty()) {
    std::cerr << "ferry: ferry tunnel does not take --client-tokens (its clients are admitted by --allow only)\n";
    return 2;
  }
  disable_core_dumps();
  auto upstreams = build_upstream_runtime(config, process_env(), listener_names(config));
  if (!upstreams) {
    std::cerr << "ferry: " << upstreams.error() << "\n";
    return 2;
  }
  const uint64_t fd_limit = raise_fd_limit();
  EventLog log(config.log_format, config.log_level);
  auto interception = build_interception(config, process_env(), log);
  if (!interception) {
    std::cerr << "ferry: " << interception.error() << "\n";
    return 2;
  }
  auto client_tokens = build_client_tokens(config, log);
  if (!client_tokens) {
    std::cerr << "ferry: " << client_tokens.error() << "\n";
    return 2;
  }
  for (const auto& w : (*upstreams)->warnings) log.log(LogLevel::warn, "env_proxy_ignored", {{"details", w}});
  ProxyServer server(config, log, **upstreams, interception->get(), client_tokens->get());
  // Locals die in reverse order: `upstreams`, declared first, outlives the
  // server and its io_contexts, so its GSSAPI pool used to be joined after
  // them. A call still running then ends by handing its result to the
  // waiting session's io_context (a post to a destroyed io_context), and a
  // queued one used to own the session's coroutine frame, destroyed with
  // the pool after the io_contexts its sockets belong to. This guard,
  // declared after the server, shuts the pool down first on every path:
  // running calls finish and queued ones are dropped while the io_contexts
  // still exist (they then destroy the handlers they were handed).
  const BlockingPoolShutdownGuard pool_before_server((*upstreams)->blocking);
  auto bound = server.bind();
  if (!bound) {
    log.log(LogLevel::error, "startup_failed", {{"error", bound.error()}});
    log.flush();
    std::cerr << "ferry: " << bound.error() << "\n";
    return 1;
  }
  // Runs (--admin): the admin listener binds now, so its errors stop the start.
  const std::string ca_dir = *interception ? (*interception)->ca_dir : std::string();
  std::unique_ptr<RunsRuntime> runs;
  if (*client_tokens) {
    auto started = start_runs(config, **client_tokens, server, ca_dir, log);
    if (!started) {
      log.log(LogLevel::error, "startup_failed", {{"error", started.error()}});
      log.flush();
      std::cerr << "ferry: " << started.error() << "\n";
      return 2;
    }
    runs = std::move(*started);
  }
  log.log(LogLevel::debug, "fd_limit", {{"nofile", fd_limit}});
  log.log(LogLevel::info, "routes", {{"rules", (*upstreams)->routes.to_string()}});
  const int code = server.run();
  if (runs) runs->stop(server.control());
  return code;
}

}  // namespace ferry
