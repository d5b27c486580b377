#include "server/proxy_server.h"

#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/write.hpp>
#include <thread>

#include "http/error_response.h"
#include "net/host_addresses.h"
#include "server/client_session.h"
#include "server/interception_setup.h"
#include "server/lingering_close.h"
#include "server/raw_tunnel_session.h"
#include "server/worker.h"

namespace ferry {

using namespace asio::experimental::awaitable_operators;

namespace {

// At most this many refused clients are being answered at once; beyond
// that a refused socket is closed unanswered, so a flood of denied clients
// cannot take the process to its descriptor limit.
constexpr size_t kMaxRejecting = 64;
// An accept error (EMFILE and friends) is logged at most this often per listener.
constexpr auto kAcceptErrorLogInterval = std::chrono::seconds(5);

// Whether something already accepts connections at `ep` (for a wildcard
// address: on this host's loopback). SO_REUSEPORT would let ferry bind
// beside it and silently split the traffic between the two.
bool already_served(tcp::endpoint ep) {
  if (ep.port() == 0) return false;
  if (ep.address().is_unspecified())
    ep.address(ep.address().is_v4() ? asio::ip::address(asio::ip::address_v4::loopback())
                                    : asio::ip::address(asio::ip::address_v6::loopback()));
  const int fd = ::socket(ep.protocol().family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  bool served = ::connect(fd, ep.data(), ep.size()) == 0;
  if (!served && errno == EINPROGRESS) {
    pollfd p{fd, POLLOUT, 0};
    const int ready = ::poll(&p, 1, 500);
    int err = 0;
    socklen_t len = sizeof err;
    // No answer within the wait: a listener whose backlog is full.
    served = ready == 0 || (ready == 1 && ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0);
  }
  ::close(fd);
  return served;
}

}  // namespace

uint64_t raise_fd_limit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return 0;
  if (rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    getrlimit(RLIMIT_NOFILE, &rl);
  }
  return rl.rlim_cur;
}

ProxyServer::ProxyServer(const Config& config, EventLog& log, UpstreamRuntime& upstreams,
                         InterceptionRuntime* interception, const ClientTokenStore* client_tokens)
    : config_(config), log_(log), ctx_(std::make_shared<const Config>(config), log, http::Via::random(), upstreams) {
  if (interception) {
    ctx_.certificates = interception->certificates.get();
    ctx_.request_log = interception->request_log.get();
  }
  ctx_.client_tokens = client_tokens;
  ctx_.client_tokens_required = !config.client_tokens_file.empty();
  // Read once at start: an address gained later (DHCP) is not recognised.
  ctx_.filter.set_host_addresses(host_interface_addresses());
  unsigned n = config.workers ? config.workers : std::max(1u, std::thread::hardware_concurrency());
  for (unsigned i = 0; i < n; ++i) workers_.push_back(std::make_unique<Worker>(ctx_));
}

ProxyServer::~ProxyServer() = default;

Expected<bool> ProxyServer::bind() {
  const ListenerKind main_kind = config_.tunnel_target ? ListenerKind::fixed_tunnel : ListenerKind::http;
  for (const auto& l : config_.listen)
    if (auto r = bind_one(l, main_kind); !r) return r;
  for (const auto& l : config_.socks_listen)
    if (auto r = bind_one(l, ListenerKind::socks); !r) return r;
  return true;
}

Expected<bool> ProxyServer::bind_one(const HostPort& l, ListenerKind kind) {
  const std::string flag = kind == ListenerKind::socks ? "--socks-listen " : "--listen ";
  error_code ec;
  auto addr = asio::ip::make_address(l.host == "localhost" ? "127.0.0.1" : l.host, ec);
  if (ec) return fail("cannot listen on " + flag + l.to_string() + ": not an IP address");
  tcp::endpoint ep(addr, l.port);
  if (already_served(ep))
    return fail("cannot listen on " + flag + l.to_string() + ": another process already serves this address");
  // One acceptor per worker on the same port (SO_REUSEPORT): the kernel
  // spreads connections over the workers with no hand-off between threads.
  for (auto& w : workers_) {
    auto acc = std::make_unique<tcp::acceptor>(w->io());
    acc->open(ep.protocol(), ec);
    if (!ec) acc->set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec && ep.address().is_v6()) acc->set_option(asio::ip::v6_only(true), ec);
    int one = 1;
    bool reuseport = ::setsockopt(acc->native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) == 0;
    if (!ec) acc->bind(ep, ec);
    if (!ec) acc->listen(4096, ec);
    if (ec) return fail("cannot listen on " + flag + l.to_string() + ": " + ec.message());
    if (ep.port() == 0) ep = acc->local_endpoint();  // the others share the port picked here
    acceptors_.push_back(std::move(acc));
    acceptor_worker_.push_back(w.get());
    acceptor_kind_.push_back(kind);
    if (!reuseport) break;  // no SO_REUSEPORT: one acceptor serves
  }
  bound_.push_back(ep);
  ctx_.filter.prohibit(ep);
  return true;
}

void ProxyServer::start_reject(Worker& worker, tcp::socket socket, ProxyError err) {
  if (rejecting_.fetch_add(1, std::memory_order_relaxed) >= kMaxRejecting) {
    rejecting_.fetch_sub(1, std::memory_order_relaxed);
    rejects_dropped_.fetch_add(1, std::memory_order_relaxed);
    error_code ignored;
    socket.close(ignored);
    return;
  }
  asio::co_spawn(worker.io(), reject(std::move(socket), std::move(err)), asio::detached);
}

awaitable<void> ProxyServer::reject(tcp::socket socket, ProxyError err) {
  struct Done {
    std::atomic<size_t>& n;
    ~Done() { n.fetch_sub(1, std::memory_order_relaxed); }
  } done{rejecting_};
  // Answer, stop sending, and drain what the client sent for a moment so the
  // close does not turn into a reset that destroys the answer in flight.
  // (No request was read: the method is unknown, so the answer has a body.)
  auto response = http::make_error_response(err, ctx_.via_1_1, true, {});
  auto [ec, n] = co_await asio::async_write(socket, asio::buffer(response), nothrow_awaitable);
  (void)n;
  constexpr LingerLimits kLinger{std::chrono::seconds(1), 1 << 20};
  co_await lingering_close(socket, kLinger);
}

awaitable<void> ProxyServer::accept_loop(Worker& worker, tcp::acceptor& acceptor, ListenerKind kind) {
  std::chrono::steady_clock::time_point last_error_log{};
  uint64_t unlogged_errors = 0;
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(nothrow_awaitable);
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
      // EMFILE and friends: back off briefly instead of spinning, and say
      // so now and then rather than 20 times a second.
      const auto now = std::chrono::steady_clock::now();
      if (now - last_error_log >= kAcceptErrorLogInterval) {
        log_.log(LogLevel::error, "accept_failed", {{"error", ec.message()}, {"repeats_not_logged", unlogged_errors}});
        last_error_log = now;
        unlogged_errors = 0;
      } else {
        ++unlogged_errors;
      }
      asio::steady_timer t(worker.io(), std::chrono::milliseconds(50));
      co_await t.async_wait(nothrow_awaitable);
      continue;
    }
    error_code rec;
    auto peer = socket.remote_endpoint(rec);
    if (rec) continue;
    bool allowed = false;
    for (const auto& p : config_.allow) allowed |= p.contains(peer.address());
    if (!allowed) {
      log_.log(LogLevel::warn, "client_denied", {{"client", peer.address().to_string()}});
      start_reject(worker, std::move(socket),
                   {ProxyErrc::http_request_denied,
                    "client address " + peer.address().to_string() + " is not in --allow"});
      continue;
    }
    if (ctx_.connections.load(std::memory_order_relaxed) >= config_.max_connections) {
      log_.log(LogLevel::warn, "connection_limit",
               {{"client", peer.address().to_string()}, {"max_connections", uint64_t(config_.max_connections)}});
      start_reject(worker, std::move(socket),
                   {ProxyErrc::connection_limit_reached,
                    "ferry is serving its maximum of " + std::to_string(config_.max_connections) + " connections"});
      continue;
    }
    ctx_.connections.fetch_add(1, std::memory_order_relaxed);
    switch (kind) {
      case ListenerKind::http:
        asio::co_spawn(worker.io(), run_client_session(worker, std::move(socket)), asio::detached);
        break;
      case ListenerKind::socks:
        asio::co_spawn(worker.io(), run_socks_session(worker, std::move(socket)), asio::detached);
        break;
      case ListenerKind::fixed_tunnel:
        asio::co_spawn(worker.io(), run_fixed_tunnel_session(worker, std::move(socket), *config_.tunnel_target),
                       asio::detached);
        break;
    }
  }
}

void ProxyServer::close_client_sessions(const std::string& client_id) {
  for (auto& w : workers_) asio::post(w->io(), [w = w.get(), client_id] { w->close_sessions_of(client_id); });
}

void ProxyServer::begin_drain() {
  ctx_.draining = true;
  for (size_t i = 0; i < acceptors_.size(); ++i) {
    asio::post(acceptor_worker_[i]->io(), [acc = acceptors_[i].get()] {
      error_code ignored;
      acc->close(ignored);
    });
  }
  for (auto& w : workers_) asio::post(w->io(), [w = w.get()] { w->close_idle_sessions(); });
}

int ProxyServer::run() {
  for (size_t i = 0; i < acceptors_.size(); ++i)
    asio::co_spawn(acceptor_worker_[i]->io(), accept_loop(*acceptor_worker_[i], *acceptors_[i], acceptor_kind_[i]),
                   asio::detached);

  // Keep every worker running until told to stop, and sweep idle origin
  // connections from each pool now and then.
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards;
  for (auto& w : workers_) {
    guards.push_back(asio::make_work_guard(w->io()));
    auto sweep = [](Worker& wk) -> awaitable<void> {
      asio::steady_timer t(wk.io());
      for (;;) {
        t.expires_after(std::chrono::seconds(10));
        auto [ec] = co_await t.async_wait(nothrow_awaitable);
        if (ec) co_return;
        wk.pool().sweep();
      }
    };
    asio::co_spawn(w->io(), sweep(*w), asio::detached);
  }
  std::vector<std::thread> threads;
  for (auto& w : workers_) threads.emplace_back([w = w.get()] { w->io().run(); });

  std::string addrs;
  for (const auto& ep : bound_) {
    if (!addrs.empty()) addrs += ",";
    addrs += (ep.address().is_v6() ? "[" + ep.address().to_string() + "]" : ep.address().to_string()) + ":" +
             std::to_string(ep.port());
  }
  log_.log(LogLevel::info, "listening",
           {{"listen", addrs},
            {"workers", uint64_t(workers_.size())},
            {"via", ctx_.via.received_by()},
            {"max_connections", uint64_t(config_.max_connections)}});

  // The control loop: signals, then the drain.
  asio::io_context& control = control_;
  // SIGHUP is caught so that a closed terminal or an operator expecting a
  // reload does not kill ferry without a drain.
  asio::signal_set signals(control, SIGINT, SIGTERM, SIGHUP);
  int signal_count = 0;
  bool done = false;
  std::function<void(error_code, int)> on_signal = [&](error_code ec, int sig) {
    if (ec) return;
    if (sig == SIGHUP) {
      log_.log(LogLevel::warn, "reload_not_implemented",
               {{"signal", sig},
                {"details", "SIGHUP received; configuration reload is not implemented yet, ferry goes on serving"}});
      signals.async_wait(on_signal);
      return;
    }
    if (++signal_count > 1) {
      done = true;  // a second signal: stop now
      return;
    }
    log_.log(LogLevel::info, "shutdown", {{"signal", sig}, {"in_flight", uint64_t(ctx_.connections.load())}});
    begin_drain();
    signals.async_wait(on_signal);
  };
  signals.async_wait(on_signal);
  const auto drain_limit = std::chrono::seconds(10);
  std::chrono::steady_clock::time_point drain_start{};
  while (!done) {
    control.run_for(std::chrono::milliseconds(50));
    if (signal_count == 0) continue;
    if (drain_start == std::chrono::steady_clock::time_point{}) drain_start = std::chrono::steady_clock::now();
    if (ctx_.connections.load() == 0) break;
    if (std::chrono::steady_clock::now() - drain_start >= drain_limit) {
      log_.log(LogLevel::warn, "shutdown_forced", {{"in_flight", uint64_t(ctx_.connections.load())}});
      break;
    }
  }
  for (auto& w : workers_) w->io().stop();
  for (auto& t : threads) t.join();
  // Until the admin endpoint lands, the failover counter is reported here.
  log_.log(LogLevel::info, "stopped",
           {{"upstream_failovers", ctx_.runtime.health.failovers()}, {"rejected_unanswered", rejects_dropped_.load()}});
  log_.flush();
  return 0;
}

}  // namespace ferry
