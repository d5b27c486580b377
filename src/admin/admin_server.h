#pragma once
// The admin listener (SPEC §2 --admin/--admin-token, §10): HTTP/1.1 with
// keep-alive on a unix socket or a TCP address, dispatching to a route
// table. The runs API (control/control_api.h) and /healthz are added by
// add_control_routes / add_health_route; /metrics, /readyz, /v1/route,
// /v1/config and /v1/reload are added the same way by their owners.
//
// Auth: on a unix socket the socket file's permissions are the auth (0600,
// in a 0700 directory when ferry makes it): every request is authorized.
// On TCP a route marked `needs_token` answers 401 unless the request
// carries `Authorization: Bearer <admin token>` (compared in constant
// time); the others are open.
//
// Requests: heads parsed by ferry's strict parser, bodies by Content-Length
// only (chunked → 411) up to kMaxControlBody (413 beyond). Nothing of a
// request's headers or body, and no token, is ever logged; the log line
// names the method, the path without its query, and the status.
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "admin/admin_address.h"
#include "base/expected.h"
#include "base/secret.h"
#include "control/control_api.h"
#include "http/message_head.h"
#include "log/event_log.h"
#include "net/asio.h"

namespace ferry {

// A response of any admin route (the runs API's type, used by all).
using AdminResponse = ControlResponse;

struct AdminRequest {
  std::string_view method;  // HEAD arrives as GET (the server drops the body)
  std::string_view target;  // origin-form, query included
  std::string_view path;    // target without the query
  std::string_view body;
  const std::vector<http::HeaderField>* fields = nullptr;
  bool authorized = false;  // unix socket, or the admin token was presented
};

struct AdminRoute {
  std::string path;  // exact, or with `prefix` every path that starts with it
  bool prefix = false;
  bool needs_token = false;  // on TCP: 401 without the admin token
  std::function<AdminResponse(const AdminRequest&)> handler;
};

// The first route that matches a path wins; unknown paths get 404.
class AdminRoutes {
 public:
  void add(AdminRoute route) { routes_.push_back(std::move(route)); }
  const AdminRoute* find(std::string_view path) const;

 private:
  std::vector<AdminRoute> routes_;
};

// GET /healthz → 200 "ok".
void add_health_route(AdminRoutes& routes);
// /v1/runs and /v1/runs/ID → handle_control (needs the token on TCP).
// `registry` must outlive the server; `context` is copied.
void add_control_routes(AdminRoutes& routes, RunRegistry& registry, ControlContext context);

struct AdminServerOptions {
  AdminAddress address;
  // --admin-token; a TCP address that is not loopback is refused without it.
  std::optional<Secret> token;
  EventLog* log = nullptr;  // null: no log lines
  size_t max_connections = 64;
  // A connection with no complete request (head and body) within this long
  // is closed; also the keep-alive idle limit.
  Millis request_timeout = std::chrono::seconds(30);
};

class AdminServer {
 public:
  // Binds now (startup errors name the address): for a unix socket, makes
  // the missing parent directories 0700, replaces a stale socket file (one
  // no process accepts on; another ferry's live socket is an error, a file
  // of another kind too), makes the socket 0600 before it listens.
  static Expected<std::unique_ptr<AdminServer>> open(const asio::any_io_executor& ex, AdminServerOptions options,
                                                     AdminRoutes routes);
  ~AdminServer();  // stop()
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  // Accepts and serves until stop() or until the awaiting coroutine is
  // cancelled (then it stops itself). Run it on the executor given to open().
  awaitable<void> serve();
  // Closes the listener and every connection and removes the socket file
  // (if it is still ours). On the server's executor; idempotent.
  void stop();

  // The bound address: the socket path, or host:port with the real port.
  const AdminAddress& address() const { return bound_; }

  struct State;

 private:
  AdminServer() = default;
  std::shared_ptr<State> state_;
  AdminAddress bound_;
};

inline awaitable<void> serve_admin(AdminServer& server) { return server.serve(); }

}  // namespace ferry
