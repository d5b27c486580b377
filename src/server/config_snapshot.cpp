#include "server/config_snapshot.h"

namespace ferry {

namespace {

UpstreamContext upstream_context(const Config& config, const ProcessState& p, const Destinations& destinations) {
  return UpstreamContext{
      config.connect_timeout, destinations, p.proxy_tls, p.origin_tls, p.health, p.auth, p.log, p.blocking, p.via};
}

}  // namespace

ConfigSnapshot::ConfigSnapshot(std::shared_ptr<const Config> c, std::shared_ptr<const RouteTable> r,
                               const ProcessState& process)
    : config(std::move(c)),
      routes(std::move(r)), destinations{process.destinations.resolver, process.destinations.filter,
                                         process.destinations.scope, config->policy.get()},
      remote_destinations{process.remote_destinations.resolver, process.remote_destinations.filter,
                          process.remote_destinations.scope, config->policy.get()},
      resolver(std::make_unique<StaticProxyResolver>(*routes)),
      upstream(upstream_context(*config, process, destinations)),
      remote_upstream(upstream_context(*config, process, remote_destinations)) {}

void SnapshotSource::publish(SnapshotPtr next) {
  SnapshotPtr old;
  {
    std::lock_guard lock(mu_);
    old = std::exchange(current_, std::move(next));
    generation_.fetch_add(1, std::memory_order_release);
  }
  // `old` dies here, outside the lock (unless requests still hold it).
}

SnapshotPtr SnapshotSource::current() const {
  std::lock_guard lock(mu_);
  return current_;
}

}  // namespace ferry
