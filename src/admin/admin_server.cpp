#include "admin/admin_server.h"

#include <openssl/crypto.h>

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/write.hpp>

#include <set>

#include "admin/admin_http.h"
#include "admin/admin_listener.h"
#include "http/head_parser.h"
#include "http/message_framing.h"
#include "server/deadline.h"

// GCC 12 note (as in server/): awaited calls take named locals, never
// temporaries, and no co_await sits inside ?: or a co_return expression.

namespace ferry {

using namespace asio::experimental::awaitable_operators;
using Socket = AdminProtocol::socket;

struct AdminServer::State {
  State(const asio::any_io_executor& e, AdminServerOptions o, AdminRoutes r)
      : ex(e), options(std::move(o)), routes(std::move(r)), acceptor(e) {}
  asio::any_io_executor ex;
  AdminServerOptions options;
  AdminRoutes routes;
  AdminAcceptor acceptor;
  std::set<Socket*> sessions;  // open connections, closed by stop()
  bool stopped = false;
  SocketFile socket_file;  // the unix socket this server made (removed at stop if still it)
};

const AdminRoute* AdminRoutes::find(std::string_view path) const {
  for (const auto& r : routes_)
    if (r.prefix ? path.starts_with(r.path) : path == r.path) return &r;
  return nullptr;
}

void add_health_route(AdminRoutes& routes) {
  routes.add({"/healthz", false, false, [](const AdminRequest& req) {
                AdminResponse r;
                if (req.method != "GET") {
                  r.status = 405;
                  r.headers.emplace_back("Allow", "GET, HEAD");
                  r.body = json_error("method not allowed (allowed: GET, HEAD)");
                  return r;
                }
                r.content_type = "text/plain; charset=utf-8";
                r.body = "ok\n";
                return r;
              }});
}

void add_control_routes(AdminRoutes& routes, RunRegistry& registry, ControlContext context) {
  auto handler = [&registry,
                  ctx = std::make_shared<const ControlContext>(std::move(context))](const AdminRequest& req) {
    return handle_control({req.method, req.target, req.body, req.authorized}, registry, *ctx);
  };
  routes.add({"/v1/runs", false, true, handler});
  routes.add({"/v1/runs/", true, true, handler});
}

namespace {

// One request, as the session reads it: the head's views point into the
// connection's buffer, the body is its own copy.
struct ReadRequest {
  enum class Status { complete, closed, refused } status = Status::closed;
  AdminResponse refusal;  // status == refused: answered, then the connection closes
  http::RequestHead head;
  http::RequestInfo info;
  size_t head_size = 0;
  std::string body;
};

AdminResponse refusal(int status, std::string_view message) {
  AdminResponse r;
  r.status = status;
  r.body = json_error(message);
  return r;
}

awaitable<ReadRequest> read_request(Socket& sock, std::string& buf, Deadline& deadline, Millis timeout) {
  ReadRequest out;
  char chunk[4096];
  size_t scan = 0;
  http::HeadScan s;
  for (;;) {
    s = http::scan_for_head_end(buf, scan);
    if (s.state != http::ParseState::incomplete) break;
    scan = s.next_scan;
    auto [ec, n] = co_await sock.async_read_some(asio::buffer(chunk), nothrow_awaitable);
    if (ec) {
      out.status = deadline.expired() && !buf.empty() ? ReadRequest::Status::refused : ReadRequest::Status::closed;
      out.refusal = refusal(408, "no complete request within " + format_duration(timeout));
      co_return out;
    }
    buf.append(chunk, n);
  }
  out.status = ReadRequest::Status::refused;
  if (s.state == http::ParseState::error) {
    const bool too_large = s.next_scan >= http::kMaxHeadSize;
    out.refusal = refusal(too_large ? 431 : 400, "malformed request: " + std::string(s.error));
    co_return out;
  }
  out.head_size = s.head_size;
  auto parsed = http::parse_request_head(std::string_view(buf).substr(0, s.head_size), out.head);
  if (parsed.state != http::ParseState::complete) {
    out.refusal = refusal(400, "malformed request: " + std::string(parsed.error));
    co_return out;
  }
  auto info = http::analyze_request(out.head);
  auto rules = info ? http::check_request_rules(out.head, *info) : Expected<bool>(true);
  if (!info || !rules) {
    out.refusal = refusal(400, "malformed request: " + (info ? rules.error() : info.error()));
    co_return out;
  }
  out.info = *info;
  if (out.info.body == http::BodyKind::chunked) {
    out.refusal = refusal(411, "send the body with a Content-Length (chunked is not accepted here)");
    co_return out;
  }
  if (out.info.content_length > kMaxControlBody) {
    out.refusal = refusal(413, "the body is larger than " + std::to_string(kMaxControlBody) + " bytes");
    co_return out;
  }
  if (out.head.target.empty() || out.head.target.front() != '/') {
    out.refusal = refusal(400, "the request target must be a path (origin-form)");
    co_return out;
  }
  const size_t want = size_t(out.info.content_length);
  if (want > 0 && out.info.expect_continue) {
    static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
    auto [ec, n] = co_await asio::async_write(sock, asio::buffer(kContinue), nothrow_awaitable);
    if (ec) {
      out.status = ReadRequest::Status::closed;
      co_return out;
    }
  }
  // The body goes to its own string: appending to `buf` could move it and
  // leave the head's views dangling.
  out.body.reserve(want);
  out.body.append(std::string_view(buf).substr(s.head_size, std::min(want, buf.size() - s.head_size)));
  while (out.body.size() < want) {
    const size_t room = std::min(sizeof chunk, want - out.body.size());
    auto [ec, n] = co_await sock.async_read_some(asio::buffer(chunk, room), nothrow_awaitable);
    if (ec) {
      out.status = ReadRequest::Status::closed;
      out.refusal = refusal(408, "no complete request within " + format_duration(timeout));
      if (deadline.expired()) out.status = ReadRequest::Status::refused;
      OPENSSL_cleanse(chunk, sizeof chunk);
      co_return out;
    }
    out.body.append(chunk, n);
  }
  OPENSSL_cleanse(chunk, sizeof chunk);
  out.status = ReadRequest::Status::complete;
  co_return out;
}

AdminResponse dispatch(const AdminServer::State& st, const ReadRequest& rr, bool is_unix) {
  const std::string_view target = rr.head.target;
  const std::string_view path = target.substr(0, target.find('?'));
  const AdminRoute* route = st.routes.find(path);
  if (!route) return refusal(404, "no such path");
  const bool authorized = is_unix || (st.options.token && bearer_matches(rr.head.fields, *st.options.token));
  if (route->needs_token && !authorized) {
    auto r = refusal(401, st.options.token ? "this path needs the admin token (Authorization: Bearer)"
                                           : "this path needs the admin token, and none is set (--admin-token)");
    r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"ferry-admin\"");
    return r;
  }
  AdminRequest req;
  req.method = rr.head.method == "HEAD" ? std::string_view("GET") : rr.head.method;
  req.target = target;
  req.path = path;
  req.body = rr.body;
  req.fields = &rr.head.fields;
  req.authorized = authorized;
  return route->handler(req);
}

void log_request(const AdminServer::State& st, std::string_view method, std::string_view target, int status) {
  if (!st.options.log || !st.options.log->enabled(LogLevel::debug)) return;
  // The path only: a query (/v1/route?url=…) may carry credentials.
  const std::string_view path = target.substr(0, target.find('?'));
  st.options.log->log(LogLevel::debug, "admin_request",
                      {{"method", method.substr(0, 16)}, {"path", path.substr(0, 256)}, {"status", status}});
}

awaitable<void> write_response(Socket& sock, const AdminResponse& response, bool head_only, bool close,
                               error_code& ec) {
  std::string bytes = format_admin_response(response, head_only, close);
  auto [e, n] = co_await asio::async_write(sock, asio::buffer(bytes), nothrow_awaitable);
  ec = e;
  if (response.holds_secret) cleanse_string(bytes);
}

// After refusing a request whose rest (a body, a long head) is still
// arriving: stop sending and read what the client sends for a moment.
// Closing with unread input would reset the connection, and the client
// could lose the answer before reading it.
awaitable<void> linger(Socket& sock, Deadline& deadline) {
  error_code ec;
  sock.shutdown(asio::socket_base::shutdown_send, ec);
  deadline.arm(std::chrono::seconds(1), [&sock] {
    error_code ignored;
    sock.close(ignored);
  });
  char discard[4096];
  size_t total = 0;
  while (!ec && total < 4 * kMaxControlBody) {
    auto [e, n] = co_await sock.async_read_some(asio::buffer(discard), nothrow_awaitable);
    ec = e;
    total += n;
  }
  OPENSSL_cleanse(discard, sizeof discard);
}

awaitable<void> serve_connection(std::shared_ptr<AdminServer::State> st, Socket& sock, Deadline& deadline,
                                 bool is_unix) {
  std::string buf;
  const Millis timeout = st->options.request_timeout;
  for (;;) {
    deadline.arm(timeout, [&sock] {
      error_code ignored;
      sock.cancel(ignored);
    });
    ReadRequest rr = co_await read_request(sock, buf, deadline, timeout);
    deadline.arm(timeout, [&sock] {
      error_code ignored;
      sock.close(ignored);
    });
    error_code ec;
    if (rr.status == ReadRequest::Status::closed) break;
    if (rr.status == ReadRequest::Status::refused) {
      log_request(*st, rr.head.method.empty() ? "-" : rr.head.method, rr.head.target, rr.refusal.status);
      co_await write_response(sock, rr.refusal, false, true, ec);
      if (!ec) co_await linger(sock, deadline);
      break;
    }
    AdminResponse response = dispatch(*st, rr, is_unix);
    log_request(*st, rr.head.method, rr.head.target, response.status);
    const bool keep_alive = rr.info.keep_alive && !st->stopped;
    co_await write_response(sock, response, rr.head.method == "HEAD", !keep_alive, ec);
    // The request may hold secrets (inline inject values): wipe it.
    cleanse_string(rr.body);
    const size_t consumed = std::min(buf.size(), rr.head_size + size_t(rr.info.content_length));
    OPENSSL_cleanse(buf.data(), consumed);
    buf.erase(0, consumed);
    if (ec || !keep_alive) break;
  }
  cleanse_string(buf);
  error_code ignored;
  sock.shutdown(asio::socket_base::shutdown_send, ignored);
}

awaitable<void> session(std::shared_ptr<AdminServer::State> st, Socket sock, bool is_unix) {
  st->sessions.insert(&sock);
  Deadline deadline(sock.get_executor());
  co_await (serve_connection(st, sock, deadline, is_unix) || deadline.watch());
  st->sessions.erase(&sock);
  error_code ignored;
  sock.close(ignored);
}

}  // namespace

Expected<std::unique_ptr<AdminServer>> AdminServer::open(const asio::any_io_executor& ex, AdminServerOptions options,
                                                         AdminRoutes routes) {
  if (!options.address.is_loopback() && !options.token)
    return fail("--admin " + options.address.to_string() +
                " is not a loopback address: it needs --admin-token (or use a unix socket)");
  std::unique_ptr<AdminServer> server(new AdminServer());
  server->state_ = std::make_shared<State>(ex, std::move(options), std::move(routes));
  State& st = *server->state_;
  server->bound_ = st.options.address;
  if (st.options.address.is_unix()) {
    auto bound = listen_unix(st.acceptor, st.options.address.unix_path);
    if (!bound) return Unexpected{bound.error()};
    st.socket_file = *bound;
  } else {
    auto bound = listen_tcp(st.acceptor, *st.options.address.tcp_endpoint);
    if (!bound) return Unexpected{bound.error()};
    server->bound_.tcp_endpoint = *bound;
  }
  return server;
}

AdminServer::~AdminServer() { stop(); }

void AdminServer::stop() {
  if (!state_ || state_->stopped) return;
  State& st = *state_;
  st.stopped = true;
  error_code ignored;
  st.acceptor.close(ignored);
  for (Socket* s : st.sessions) s->close(ignored);
  remove_socket_file(st.socket_file);
}

awaitable<void> AdminServer::serve() {
  std::shared_ptr<State> st = state_;
  const bool is_unix = st->options.address.is_unix();
  asio::steady_timer pause(st->ex);
  while (!st->stopped) {
    auto [ec, sock] = co_await st->acceptor.async_accept(nothrow_awaitable);
    if (ec == asio::error::operation_aborted || st->stopped) break;
    if (ec) {
      // EMFILE and friends: the condition lasts; do not spin on it.
      pause.expires_after(std::chrono::milliseconds(100));
      co_await pause.async_wait(nothrow_awaitable);
      continue;
    }
    if (st->sessions.size() >= st->options.max_connections) continue;  // closed by its destructor
    asio::co_spawn(st->ex, session(st, std::move(sock), is_unix), asio::detached);
  }
  stop();
}

}  // namespace ferry
