#pragma once
// Owns the worker threads, the listeners and the shutdown sequence.
#include <memory>
#include <vector>

#include "server/server_context.h"

namespace ferry {

class Worker;
struct InterceptionRuntime;

class ProxyServer {
 public:
  // `interception`: null when no inject rule exists. `client_tokens`: null
  // when no client is asked for a token (client_token_setup.h).
  ProxyServer(const Config& config, EventLog& log, UpstreamRuntime& upstreams,
              InterceptionRuntime* interception = nullptr, const ClientTokenStore* client_tokens = nullptr);
  ~ProxyServer();

  // Binds every listener; on failure returns a message naming the address.
  Expected<bool> bind();
  // Serves until SIGINT/SIGTERM, then drains for up to 10 s. Returns the exit code.
  int run();

  // The main thread's event loop while run() runs: signals, the drain, and
  // what serve adds (the admin listener, the runs' expiry timer).
  asio::io_context& control() { return control_; }

  // Ends every connection and tunnel of `client_id` (a run deleted or
  // expired), on each worker's thread. Callable from any thread.
  void close_client_sessions(const std::string& client_id);

  // The addresses actually bound (port 0 resolved): --listen in order, then --socks-listen.
  const std::vector<tcp::endpoint>& bound() const { return bound_; }

 private:
  enum class ListenerKind { http, socks, fixed_tunnel };
  Expected<bool> bind_one(const HostPort& address, ListenerKind kind);
  awaitable<void> accept_loop(Worker& worker, tcp::acceptor& acceptor, ListenerKind kind);
  // Answers a refused client, or closes it unanswered when kMaxRejecting
  // answers are already under way.
  void start_reject(Worker& worker, tcp::socket socket, ProxyError err);
  awaitable<void> reject(tcp::socket socket, ProxyError err);
  void begin_drain();

  const Config& config_;
  EventLog& log_;
  asio::io_context control_;
  ServerContext ctx_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors_;  // owned per worker
  std::vector<Worker*> acceptor_worker_;
  std::vector<ListenerKind> acceptor_kind_;
  std::vector<tcp::endpoint> bound_;
  std::atomic<size_t> rejecting_{0};          // reject() coroutines alive
  std::atomic<uint64_t> rejects_dropped_{0};  // refused sockets closed unanswered (over the cap)
};

// Raises RLIMIT_NOFILE to the hard limit; returns the new soft limit.
uint64_t raise_fd_limit();

}  // namespace ferry
