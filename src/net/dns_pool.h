#pragma once
// The process's DNS resolver: blocking lookups on a small pool of threads
// shared by every worker, behind a cache and one lookup per name at a time.
// A caller waits at most its own timeout; the lookup goes on detached, so a
// name whose servers never answer holds one pool thread, not the callers,
// and never delays other names (asio's resolver has one thread per
// io_context, and a cancelled wait does not stop its getaddrinfo).
#include <memory>
#include <thread>
#include <vector>

#include "net/dns_resolver.h"

namespace ferry {

struct DnsPoolOptions {
  unsigned threads = 6;
  // getaddrinfo reports no TTL: answers are kept for a fixed, short time.
  Millis positive_ttl{30000};
  Millis negative_ttl{5000};
  size_t max_cached_names = 4096;
};

// getaddrinfo(3), AF_UNSPEC, stream sockets.
std::unique_ptr<DnsBackend> make_getaddrinfo_backend();

class DnsPool final : public DnsResolver {
 public:
  explicit DnsPool(std::unique_ptr<DnsBackend> backend = make_getaddrinfo_backend(), DnsPoolOptions options = {});
  // Does not wait for lookups in progress: their threads finish on their own.
  ~DnsPool() override;
  DnsPool(const DnsPool&) = delete;
  DnsPool& operator=(const DnsPool&) = delete;

  awaitable<DnsResult> resolve(const std::string& host, Millis timeout) override;

  struct State;  // shared with the pool threads, which may outlive the pool

 private:
  std::shared_ptr<State> state_;
};

}  // namespace ferry
