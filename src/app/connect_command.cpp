#include "app/connect_command.h"

#include <unistd.h>

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/write.hpp>
#include <csignal>
#include <iostream>

#include "app/serve_command.h"
#include "net/dns_pool.h"
#include "upstream/upstream_dialer.h"
#include "upstream/upstream_runtime.h"

namespace ferry {

using namespace asio::experimental::awaitable_operators;
using asio::posix::stream_descriptor;

namespace {

// stdin -> tunnel. At stdin's end the tunnel is half-closed and this side
// then waits (cancelled when the other direction ends): ssh keeps reading
// the server's last bytes after it has sent its own.
awaitable<void> upstream_copy(stream_descriptor& in, ByteStream& tunnel) {
  std::array<char, 64 * 1024> buf;
  for (;;) {
    auto [ec, n] = co_await in.async_read_some(asio::buffer(buf), nothrow_awaitable);
    if (ec) break;
    error_code wec;
    co_await tunnel.write(asio::buffer(buf.data(), n), wec);
    if (wec) co_return;
  }
  co_await tunnel.shutdown_send();
  asio::steady_timer forever(co_await asio::this_coro::executor, asio::steady_timer::time_point::max());
  co_await forever.async_wait(nothrow_awaitable);
}

// tunnel -> stdout, until the far end closes.
awaitable<void> downstream_copy(ByteStream& tunnel, stream_descriptor& out) {
  std::array<char, 64 * 1024> buf;
  for (;;) {
    error_code ec;
    size_t n = co_await tunnel.read_some(asio::buffer(buf), ec);
    if (ec || n == 0) co_return;
    auto [wec, written] = co_await asio::async_write(out, asio::buffer(buf.data(), n), nothrow_awaitable);
    (void)written;
    if (wec) co_return;
  }
}

struct ConnectRun {
  int exit_code = 0;
  std::string error;
};

awaitable<void> connect_and_relay(const UpstreamContext& up, const RouteTable& routes, HostPort target,
                                  ConnectRun& run) {
  auto ex = co_await asio::this_coro::executor;
  const StaticProxyResolver resolver(routes);
  const std::string authority = target.to_string();
  const RouteQuery query = RouteQuery::tunnel(target, authority);
  const Resolution resolved = resolver.answer(query);
  auto tunnel = co_await open_tunnel(up, *resolved.proxies, target, false);
  if (!tunnel) {
    run.exit_code = 1;
    run.error = std::string(proxy_errc_name(tunnel.error().type)) + ": " + tunnel.error().details;
    co_return;
  }
  stream_descriptor in(ex), out(ex);
  error_code ec;
  in.assign(::dup(STDIN_FILENO), ec);
  if (!ec) out.assign(::dup(STDOUT_FILENO), ec);
  if (ec) {
    run.exit_code = 2;
    run.error = "stdin and stdout must be pipes, sockets or terminals (" + ec.message() + ")";
    tunnel->stream->close();
    co_return;
  }
  if (!tunnel->early_bytes.empty()) {
    auto [wec, n] = co_await asio::async_write(out, asio::buffer(tunnel->early_bytes), nothrow_awaitable);
    (void)n;
    if (wec) co_return;
  }
  co_await (downstream_copy(*tunnel->stream, out) || upstream_copy(in, *tunnel->stream));
  tunnel->stream->close();
}

}  // namespace

int run_connect(const Config& config, const std::string& target_text) {
  std::signal(SIGPIPE, SIG_IGN);
  auto target = parse_host_port(target_text);
  if (!target) {
    std::cerr << "ferry connect: '" << redact_userinfo(target_text) << "': " << target.error() << "\n";
    return 2;
  }
  auto rt = build_upstream_runtime(config, process_env(), {});
  if (!rt) {
    std::cerr << "ferry connect: " << rt.error() << "\n";
    return 2;
  }
  // stderr is the user's terminal under ssh: warnings and errors only.
  EventLog log(config.log_format, std::max(config.log_level, LogLevel::warn));
  for (const auto& w : (*rt)->warnings) log.log(LogLevel::warn, "env_proxy_ignored", {{"details", w}});
  DnsPool dns;
  DestinationFilter filter;
  const Destinations destinations{dns, filter};
  TlsClientContext origin_tls;
  UpstreamContext up{
      config.connect_timeout, destinations, *(*rt)->proxy_tls, origin_tls, (*rt)->health, (*rt)->auth, log,
      (*rt)->blocking};

  asio::io_context io(1);
  const BlockingPoolShutdownGuard pool_before_io((*rt)->blocking);
  ConnectRun run;
  asio::co_spawn(io, connect_and_relay(up, (*rt)->routes, *target, run), asio::detached);
  io.run();
  log.flush();
  if (!run.error.empty()) std::cerr << "ferry connect: " << target->to_string() << ": " << run.error << "\n";
  return run.exit_code;
}

}  // namespace ferry
