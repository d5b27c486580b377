#include "server/raw_tunnel_session.h"

#include <algorithm>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <chrono>

#include "server/client_identity.h"
#include "server/lingering_close.h"
#include "server/socks5_inbound_codec.h"
#include "server/tunnel_relay.h"
#include "upstream/upstream_dialer.h"

namespace ferry {

using namespace asio::experimental::awaitable_operators;

namespace {

using Clock = std::chrono::steady_clock;

struct RawSession {
  RawSession(Worker& w, tcp::socket s)
      : worker(w), ctx(w.ctx()), snapshot(w.snapshot()), tcp(std::move(s)), client(tcp),
        deadline(tcp.socket().get_executor()) {
    error_code ec;
    auto ep = tcp.socket().remote_endpoint(ec);
    peer = ec ? "-"
              : (ep.address().is_v6() ? "[" + ep.address().to_string() + "]" : ep.address().to_string()) + ":" +
                    std::to_string(ep.port());
    tcp.socket().set_option(tcp::no_delay(true), ec);
  }
  Worker& worker;
  ServerContext& ctx;
  const SnapshotPtr snapshot;  // a tunnel is one request: served under one snapshot
  const Config& config() const { return *snapshot->config; }
  TcpStream tcp;
  CountingStream client;
  ReadBuffer buf{512};
  Deadline deadline;
  std::string peer;
  Clock::time_point start = Clock::now();

  std::string method, target;
  int status = 0;  // 200 = tunnel established; else the error's HTTP status
  std::string route = "direct";
  std::string error, details;
  ClientIdentity who;  // a SOCKS5 client's token (RFC 1929 password) selected
  ClientScope scope() { return ServerContext::scope_of(tcp.socket()); }

  void log() const {
    const bool failed = !error.empty();
    const LogLevel level = failed ? LogLevel::warn : LogLevel::info;
    if (!ctx.log.enabled(level)) return;
    const double ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
    ctx.log.log(level, "tunnel",
                {{"client", peer},
                 {"method", method},
                 {"target", target},
                 {"route", route},
                 {"status", status},
                 {"bytes_from_client", client.bytes_in},
                 {"bytes_to_client", client.bytes_out},
                 {"duration_ms", ms},
                 {"error", error},
                 {"details", details},
                 {"client_id", who.client_id}});
  }
  void record(const ProxyError& e) {
    status = e.http_status();
    error = std::string(proxy_errc_name(e.type));
    details = e.details;
  }
};

// Routes `target`, opens the tunnel and relays until both sides are done.
// `before_relay` tells the client it may start (the SOCKS5 reply).
template <class OnOpened>
awaitable<void> route_and_relay(RawSession& s, const HostPort& target, OnOpened before_relay) {
  const std::string authority = target.to_string();
  const RouteQuery query = RouteQuery::tunnel(target, authority);
  Expected<Resolution, ProxyError> resolved = Unexpected{ProxyError{ProxyErrc::proxy_internal_error, "no route"}};
  if (auto now = s.who.resolver(*s.snapshot).resolve_now(query)) resolved = std::move(*now);
  else resolved = co_await s.who.resolver(*s.snapshot).resolve(query);
  if (!resolved) {
    s.record(resolved.error());
    co_await before_relay(&resolved.error());
    co_return;
  }
  const ProxyListPtr proxies = resolved->proxies;
  auto tunnel = co_await open_tunnel(s.who.upstream(*s.snapshot, s.scope()), *proxies, target, false);
  if (!tunnel) {
    s.record(tunnel.error());
    if (!proxies->direct_only()) s.route = route_summary(*proxies);
    co_await before_relay(&tunnel.error());
    co_return;
  }
  s.route = tunnel->route;
  s.status = 200;
  const bool go_on = co_await before_relay(nullptr);
  if (!go_on) {
    tunnel->stream->close();
    co_return;
  }
  ReadBuffer origin_buf(0);
  if (!tunnel->early_bytes.empty()) {
    // Bytes the target sent with the proxy's reply (an ssh banner): first out.
    error_code ec;
    co_await s.client.write(asio::buffer(tunnel->early_bytes), ec);
    if (ec) {
      tunnel->stream->close();
      co_return;
    }
  }
  auto stats = co_await relay_tunnel(s.client, s.buf, *tunnel->stream, origin_buf, s.deadline, s.config().idle_timeout,
                                     s.config().relay);
  s.client.bytes_in += stats.kernel_a_to_b;
  s.client.bytes_out += stats.kernel_b_to_a;
  if (stats.idle_timeout) {
    s.error = "connection_read_timeout";
    s.details = "tunnel idle for " + format_duration(s.config().idle_timeout);
  }
  tunnel->stream->close();
}

// Reads until `parse(buf)` reports a complete or malformed message, under
// the header timeout. Returns false on EOF, error or timeout.
template <class Parse>
awaitable<bool> read_message(RawSession& s, Parse parse) {
  s.deadline.arm(s.config().header_timeout, [&s] { s.client.cancel(); });
  for (;;) {
    auto m = parse(s.buf.data());
    if (m.malformed || m.size) break;
    error_code ec;
    co_await s.buf.read_from(s.client, ec, 4096);
    if (ec) {
      s.deadline.disarm();
      co_return false;
    }
  }
  s.deadline.disarm();
  co_return true;
}

awaitable<void> write_bytes(RawSession& s, const std::string& bytes) {
  error_code ec;
  co_await s.client.write(asio::buffer(bytes), ec);
}

awaitable<void> socks_session(RawSession& s) {
  s.method = "SOCKS5";
  s.target = "-";
  const bool got_greeting = co_await read_message(s, socks5::parse_greeting);
  if (!got_greeting) co_return;
  auto greeting = socks5::parse_greeting(s.buf.data());
  if (greeting.malformed) {
    s.record({ProxyErrc::http_request_error, "not a SOCKS5 greeting"});
    co_return;
  }
  s.buf.consume(greeting.size);
  // Client tokens (SPEC §7): the token is the RFC 1929 password (any user);
  // without --client-tokens "no auth" is chosen, and a client that offers
  // only user/password still gets its run's profile.
  const bool tokens_required = s.ctx.client_tokens_required;
  const bool offers_userpass =
      std::find(greeting.methods.begin(), greeting.methods.end(), socks5::kMethodUserPass) != greeting.methods.end();
  const uint8_t method =
      socks5::select_method(greeting.methods, tokens_required || (s.ctx.client_tokens && offers_userpass));
  // Replies go through named locals: GCC 12 can destroy a temporary
  // argument of a co_await expression twice.
  const std::string selection = socks5::method_selection(method);
  co_await write_bytes(s, selection);
  if (method == socks5::kMethodUserPass) {
    const bool got_credentials = co_await read_message(s, socks5::parse_userpass);
    if (!got_credentials) co_return;
    auto credentials = socks5::parse_userpass(s.buf.data());
    std::optional<ProxyError> refused;
    if (credentials.malformed) {
      refused = ProxyError{ProxyErrc::http_request_error, "malformed SOCKS5 user/password sub-negotiation"};
    } else {
      const Secret token(credentials.password);
      refused = identify_client_token(s.who, s.ctx, *s.snapshot, s.scope(), &token);
    }
    s.buf.wipe_consume(credentials.malformed ? s.buf.size() : credentials.size);
    const std::string status = socks5::userpass_status(!refused);
    co_await write_bytes(s, status);
    if (refused) {
      s.record(*refused);
      co_return;
    }
  } else if (method != socks5::kMethodNone) {
    s.record({ProxyErrc::http_request_denied,
              tokens_required ? "the SOCKS5 client offered no user/password method: this proxy needs a client token"
                              : "the SOCKS5 client offered no method ferry accepts"});
    co_return;
  }
  const bool got_request = co_await read_message(s, socks5::parse_request);
  if (!got_request) co_return;
  auto req = socks5::parse_request(s.buf.data());
  if (const uint8_t code = socks5::rejection_code(req); code != 0) {
    s.record({ProxyErrc::http_request_error,
              req.malformed ? "malformed SOCKS5 request" : "only SOCKS5 CONNECT is supported"});
    const std::string reply = socks5::reply(code);
    co_await write_bytes(s, reply);
    co_return;
  }
  s.buf.consume(req.size);
  HostPort target{req.host, req.port};
  s.target = target.to_string();
  if (!s.config().connect_ports.allows(target.port)) {
    ProxyError denied{ProxyErrc::http_request_denied, "port " + std::to_string(target.port) +
                                                          " is not allowed (--connect-ports " +
                                                          s.config().connect_ports.to_string() + ")"};
    s.record(denied);
    const std::string reply = socks5::reply(socks5::reply_code_for(denied));
    co_await write_bytes(s, reply);
    co_return;
  }
  if (auto denied = policy_refusal(s.who, s.config(), target)) {
    s.record(*denied);
    const std::string reply = socks5::reply(socks5::reply_code_for(*denied));
    co_await write_bytes(s, reply);
    co_return;
  }
  auto answer_client = [&s](const ProxyError* err) -> awaitable<bool> {
    const std::string reply = socks5::reply(err ? socks5::reply_code_for(*err) : socks5::kReplySucceeded);
    error_code ec;
    co_await s.client.write(asio::buffer(reply), ec);
    co_return !ec;
  };
  co_await route_and_relay(s, target, answer_client);
}

awaitable<void> fixed_tunnel_session(RawSession& s, const HostPort& target) {
  s.method = "TUNNEL";
  s.target = target.to_string();
  // `ferry tunnel`'s target is fixed, but the global policy still decides.
  if (auto denied = policy_refusal(s.who, s.config(), target)) {
    s.record(*denied);
    co_return;
  }
  // The client learns of a failure by the close; the log says why.
  auto nothing_to_say = [](const ProxyError*) -> awaitable<bool> { co_return true; };
  co_await route_and_relay(s, target, nothing_to_say);
}

// One function for both kinds: passing a lambda here would put a
// temporary closure into a co_await expression, which GCC 12 destroys twice.
awaitable<void> run_raw(Worker& worker, tcp::socket socket, const HostPort* fixed_target) {
  ServerContext& ctx = worker.ctx();
  {
    RawSession s(worker, std::move(socket));
    // A deleted run's SOCKS5 tunnels end with it (Worker::close_sessions_of).
    auto tracked = worker.track_raw({&s.who.client_id, &s.client});
    auto guarded = [&]() -> awaitable<void> {
      try {
        if (fixed_target) co_await fixed_tunnel_session(s, *fixed_target);
        else co_await socks_session(s);
      } catch (const std::exception& e) {
        s.error = "proxy_internal_error";
        s.details = e.what();
      }
    };
    co_await (guarded() || s.deadline.watch());
    worker.untrack_raw(tracked);
    s.log();
    // A refused SOCKS request or failed tunnel may find the client's first
    // bytes already queued: without a linger they would turn the close (and
    // the SOCKS reply before it) into a reset.
    if (s.status != 200) co_await lingering_close(s.tcp.socket(), kClientLinger);
    s.tcp.close();
  }
  ctx.connections.fetch_sub(1, std::memory_order_relaxed);
}

}  // namespace

awaitable<void> run_socks_session(Worker& worker, tcp::socket socket) {
  co_await run_raw(worker, std::move(socket), nullptr);
}

awaitable<void> run_fixed_tunnel_session(Worker& worker, tcp::socket socket, HostPort target) {
  co_await run_raw(worker, std::move(socket), &target);
}

}  // namespace ferry
