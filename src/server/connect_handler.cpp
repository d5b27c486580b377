#include "server/connect_handler.h"

#include "http/request_target.h"
#include "intercept/inject_rule.h"
#include "server/client_identity.h"
#include "server/http_forwarder.h"
#include "server/intercepted_tunnel.h"
#include "server/tunnel_relay.h"
#include "upstream/upstream_dialer.h"

namespace ferry {

namespace {

// Where the tunnel goes, or why it does not.
Expected<HostPort, ProxyError> check_target(const Config& config, const http::RequestHead& head) {
  auto target = http::parse_authority_target(head.target);
  if (!target) return Unexpected{ProxyError{ProxyErrc::http_request_error, target.error()}};
  if (!config.connect_ports.allows(target->port))
    return Unexpected{ProxyError{ProxyErrc::http_request_denied, "CONNECT to port " + std::to_string(target->port) +
                                                                     " is not allowed (--connect-ports " +
                                                                     config.connect_ports.to_string() + ")"}};
  return *target;
}

}  // namespace

awaitable<RequestOutcome> handle_connect(ClientConnection& conn, const http::RequestHead& head) {
  ServerContext& ctx = conn.ctx;
  RequestOutcome out;
  // Errors are answered through named locals, never temporaries inside a
  // co_await (GCC 12 can destroy those twice).
  auto target = check_target(conn.config(), head);
  if (!target) {
    ProxyError err = target.error();
    out = co_await answer_error(conn, std::move(err), false, "CONNECT");
    co_return out;
  }
  if (auto denied = policy_refusal(conn, *target)) {
    ProxyError err = std::move(*denied);
    out = co_await answer_error(conn, std::move(err), false, "CONNECT");
    co_return out;
  }
  conn.buf.consume(head.size);

  // Hosts with inject rules are intercepted (SPEC §7); every other tunnel
  // is relayed untouched below.
  if (conn.ctx.certificates && !conn.inject_rules().empty()) {
    if (auto rules = matching_rules(conn.inject_rules(), target->host, target->port); !rules.empty()) {
      InterceptScope scope{*target, std::move(rules), nullptr, {},
                           {},      std::nullopt};  // a named local: see the GCC 12 note above
      out = co_await intercept_tunnel(conn, std::move(scope));
      co_return out;
    }
  }

  const std::string authority = target->to_string();
  const RouteQuery query = RouteQuery::tunnel(*target, authority);
  Expected<Resolution, ProxyError> resolved = Unexpected{ProxyError{ProxyErrc::proxy_internal_error, "no route"}};
  if (auto now = conn.who.resolver(*conn.snapshot).resolve_now(query)) resolved = std::move(*now);
  else resolved = co_await conn.who.resolver(*conn.snapshot).resolve(query);
  if (!resolved) {
    ProxyError err = resolved.error();
    out = co_await answer_error(conn, std::move(err), false, "CONNECT");
    co_return out;
  }
  const ProxyListPtr proxies = resolved->proxies;
  // Chromium's rule (target bytes before the client spoke are the proxy's
  // doing) holds for TLS, where the client speaks first; ssh and smtp
  // servers speak first, and their banner is passed on.
  const bool client_speaks_first = target->port == 443;
  const std::string via_lines = forwarded_via_lines(head.fields);
  auto tunnel = co_await open_tunnel(conn.upstream(), *proxies, *target, client_speaks_first, via_lines);
  if (!tunnel) {
    ProxyError err = tunnel.error();
    out = co_await answer_error(conn, std::move(err), false, "CONNECT");
    out.route = route_summary(*proxies);
    co_return out;
  }
  out.route = tunnel->route;
  ByteStream& origin = *tunnel->stream;

  // A bare 200: no Content-Length, no Connection: close (SPEC §4).
  std::string reply = "HTTP/1.1 200 Connection established\r\nVia: " + ctx.via_1_1 + "\r\n\r\n";
  error_code ec;
  // Under the idle deadline: a client that does not read must not pin the
  // tunnel and its upstream connection (review D9).
  conn.deadline.arm(conn.config().idle_timeout, [&conn, &origin] {
    conn.client.cancel();
    origin.cancel();
  });
  co_await conn.client.write(asio::buffer(reply), ec);
  out.status = 200;
  if (!ec && !tunnel->early_bytes.empty()) co_await conn.client.write(asio::buffer(tunnel->early_bytes), ec);
  conn.deadline.disarm();
  if (ec) {
    origin.close();
    co_return out;
  }
  ReadBuffer origin_buf(0);
  auto stats = co_await relay_tunnel(conn.client, conn.buf, origin, origin_buf, conn.deadline,
                                     conn.config().idle_timeout, conn.config().relay);
  // The splice path bypasses the counting stream; credit its bytes here.
  conn.client.bytes_in += stats.kernel_a_to_b;
  conn.client.bytes_out += stats.kernel_b_to_a;
  out.upstream_bytes_sent = stats.a_to_b;
  out.upstream_bytes_received = stats.b_to_a;
  if (stats.idle_timeout) {
    out.error = "connection_read_timeout";
    out.detail = "tunnel idle for " + format_duration(conn.config().idle_timeout);
  }
  origin.close();
  co_return out;
}

}  // namespace ferry
