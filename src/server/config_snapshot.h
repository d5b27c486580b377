#pragma once
// The configuration requests are served under, as one immutable snapshot
// (review rec. 5): the Config and what requests derive from it (the route
// resolver, the upstream contexts with their timeouts). A session takes the
// current snapshot at the start of each request (a tunnel: at its start)
// and holds it by shared_ptr until the request ends, so a reload can
// publish a new one while in-flight requests and open tunnels finish on
// theirs.
//
// State that must survive a swap is not in here: upstream health, learnt
// auth schemes and authenticators (AuthRegistry, keyed by proxy identity:
// proxy_key, scheme://user@host:port), origin pools (keyed by route and
// origin), the DNS cache and the GSSAPI pool live for the process.
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>

#include "config/config.h"
#include "routing/proxy_resolver.h"
#include "routing/route_table.h"
#include "upstream/upstream_context.h"

namespace ferry {

// What a snapshot borrows from the process (outlives every snapshot).
struct ProcessState {
  const Destinations& destinations;         // local clients
  const Destinations& remote_destinations;  // clients on other hosts
  TlsClientContext& proxy_tls;
  TlsClientContext& origin_tls;
  UpstreamHealth& health;
  const AuthRegistry& auth;
  EventLog& log;
  BlockingPool& blocking;
  const std::string& via;  // "1.1 ferry-xxxx" for the CONNECTs ferry sends
};

struct ConfigSnapshot {
  // `routes` may alias a table owned elsewhere for the process (the one
  // built at start, whose proxies the AuthRegistry knows by address).
  ConfigSnapshot(std::shared_ptr<const Config> config, std::shared_ptr<const RouteTable> routes,
                 const ProcessState& process);

  const std::shared_ptr<const Config> config;
  const std::shared_ptr<const RouteTable> routes;
  // The process's destinations with this config's global policy.
  const Destinations destinations;
  const Destinations remote_destinations;
  // Where requests go (SPEC §3): the static rules today; PAC plugs in here.
  const std::unique_ptr<ProxyResolver> resolver;
  const UpstreamContext upstream;         // local clients
  const UpstreamContext remote_upstream;  // the remote-client destination policy

  // Clients on other hosts may not reach into this host (SPEC §3 loopback
  // rule is for the local user).
  const UpstreamContext& upstream_for(ClientScope scope) const {
    return scope == ClientScope::local ? upstream : remote_upstream;
  }
};

using SnapshotPtr = std::shared_ptr<const ConfigSnapshot>;

// The upstream context of a request whose profile has its own policy: the
// snapshot's, with the profile's policy on the destinations.
struct ProfileRoute {
  ProfileRoute(const UpstreamContext& base, const NetworkPolicy* policy)
      : destinations{base.destinations.resolver, base.destinations.filter, base.destinations.scope, policy},
        upstream{base.connect_timeout, destinations, base.proxy_tls, base.origin_tls, base.health, base.auth, base.log,
                 base.blocking,        base.via} {}
  ProfileRoute(const ProfileRoute&) = delete;
  ProfileRoute& operator=(const ProfileRoute&) = delete;

  const Destinations destinations;
  const UpstreamContext upstream;
};

// The current snapshot, shared by all workers. publish() swaps it (reload);
// readers go through a SnapshotCache, which costs one relaxed atomic load
// per request while nothing changes.
class SnapshotSource {
 public:
  explicit SnapshotSource(SnapshotPtr first) : current_(std::move(first)) {}
  void publish(SnapshotPtr next);
  SnapshotPtr current() const;
  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }

 private:
  mutable std::mutex mu_;
  SnapshotPtr current_;
  std::atomic<uint64_t> generation_{0};
};

// One thread's copy of the current snapshot (a worker's), refreshed when the
// source's generation moved. Copying the shared_ptr into a connection only
// when it changed keeps the control block's counter off the per-request path.
class SnapshotCache {
 public:
  explicit SnapshotCache(const SnapshotSource& source)
      : source_(source), generation_(source.generation()), snapshot_(source.current()) {}
  const SnapshotPtr& get() {
    if (const uint64_t g = source_.generation(); g != generation_) {
      snapshot_ = source_.current();
      generation_ = g;
    }
    return snapshot_;
  }

 private:
  const SnapshotSource& source_;
  uint64_t generation_;
  SnapshotPtr snapshot_;
};

// Non-owning pointer for process-lifetime objects a snapshot refers to.
template <class T>
std::shared_ptr<const T> borrow_for_process(const T& object) {
  return std::shared_ptr<const T>(std::shared_ptr<const T>{}, &object);
}

}  // namespace ferry
