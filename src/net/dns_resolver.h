#pragma once
// The DNS seam: what connectors (and later PAC helpers) ask for, and the
// blocking lookup underneath, each an interface so tests can use fakes.
#include <string>
#include <vector>

#include "base/duration.h"
#include "base/expected.h"
#include "base/proxy_error.h"
#include "net/asio.h"

namespace ferry {

using DnsResult = Expected<std::vector<asio::ip::address>, ProxyError>;

// Resolves host names for coroutines on any event loop. `timeout` bounds
// the caller's wait only: a lookup that outlives it goes on in the
// background (and fills the cache) without holding the caller.
class DnsResolver {
 public:
  virtual ~DnsResolver() = default;
  // Addresses in the order the system prefers them (RFC 6724 for
  // getaddrinfo); dns_error or dns_timeout otherwise.
  virtual awaitable<DnsResult> resolve(const std::string& host, Millis timeout) = 0;
};

// One blocking lookup (getaddrinfo or a test double), called on a resolver
// thread, never on an event loop.
class DnsBackend {
 public:
  virtual ~DnsBackend() = default;
  virtual DnsResult lookup(const std::string& host) = 0;
};

}  // namespace ferry
