#pragma once
// Runs (SPEC §7 "Runs") for `serve`: the registry, its hooks into the
// client-token store and the server (a run's token selects its profile; a
// deleted or expired run's token stops working and its connections close),
// the admin listener serving the control API, and the expiry timer. All on
// the server's control loop.
#include <memory>

#include "admin/admin_server.h"
#include "auth/client_tokens.h"
#include "config/config.h"
#include "control/run_registry.h"
#include "log/event_log.h"
#include "server/proxy_server.h"

namespace ferry {

struct RunsRuntime {
  std::unique_ptr<RunRegistry> registry;
  std::unique_ptr<AdminServer> admin;

  // After ProxyServer::run: closes the listener (its socket file goes).
  void stop(asio::io_context& control);
};

// Null when --admin is not given. Errors (exit 2 at start) name the admin
// address or token file. `ca_dir`: the interception CA's directory, empty
// when interception is off (runs may then carry no inject rules).
Expected<std::unique_ptr<RunsRuntime>> start_runs(const Config& config, ClientTokenStore& tokens, ProxyServer& server,
                                                  const std::string& ca_dir, EventLog& log);

// The profile a run gets: the named profile's rules and policy (none named:
// the global rules and policy), plus the
// inline rules (literal values only: `${env:}`, `${file:}` and `${exec:}`
// would let an API caller send ferry's secrets where it likes) and the
// inline policy. Errors name the field, never a value.
Expected<ProfilePtr> make_run_profile(const Config& config, const RunSpec& spec, const std::string& run_id,
                                      bool interception);

}  // namespace ferry
