#pragma once
// `ferry run [--profile NAME] [--admin ADDR] [--admin-token FILE] [--ttl D] -- COMMAND…`
// (SPEC §1, §7): registers a run with the serving ferry's control API,
// runs COMMAND with the run's environment (proxy URLs holding the run's
// token, NO_PROXY, the CA variables), forwards SIGINT/SIGTERM/SIGHUP to it,
// deletes the run when it exits and exits with its code (128+N when signal
// N killed it). Admin problems (unreachable, a 4xx/5xx answer) exit 2, a
// COMMAND that cannot be started 127; messages never hold the token.
#include <string>
#include <vector>

namespace ferry {

struct RunOptions {
  std::string profile;               // --profile; empty: the global rules and policy
  std::string admin;                 // --admin (a socket path or host:port); empty: $XDG_RUNTIME_DIR/ferry/admin.sock
  std::string admin_token_file;      // --admin-token (TCP); empty: none
  std::string ttl;                   // --ttl ("30m", "2h"); empty: the server's default (1h)
  std::vector<std::string> command;  // after `--`; not empty
};

int run_command(const RunOptions& options);

}  // namespace ferry
