// The configuration snapshot: what a request holds stays valid and
// unchanged while a new snapshot is published; the next request sees the
// new one; a worker's cache follows the source.
#include "server/config_snapshot.h"

#include <gtest/gtest.h>

#include <thread>

#include "net/dns_pool.h"

namespace ferry {
namespace {

struct Bed {
  DnsPool dns;
  DestinationFilter filter;
  Destinations local{dns, filter, ClientScope::local};
  Destinations remote{dns, filter, ClientScope::remote};
  TlsClientContext tls;
  UpstreamHealth health;
  AuthRegistry auth;
  EventLog log{LogFormat::json, LogLevel::error};
  BlockingPool blocking{1};
  std::string via = "1.1 ferry-test";
  ProcessState process{local, remote, tls, tls, health, auth, log, blocking, via};

  SnapshotPtr make(std::vector<std::string> upstreams, Millis connect_timeout) {
    auto config = std::make_shared<Config>();
    config->connect_timeout = connect_timeout;
    RouteTable::Inputs in;
    for (const auto& u : upstreams) {
      config->upstreams.push_back(*parse_proxy_url(u));
      in.upstreams.push_back(*parse_proxy_url(u));
    }
    auto table = RouteTable::build(in);
    EXPECT_TRUE(table.has_value());
    return std::make_shared<const ConfigSnapshot>(std::move(config),
                                                  std::make_shared<const RouteTable>(std::move(*table)), process);
  }
};

RouteQuery plain(std::string_view host) {
  RouteQuery q;
  q.kind = TrafficKind::plain_http;
  q.host = host;
  q.port = 80;
  q.authority = host;
  q.path = "/";
  return q;
}

std::string route_of(const ConfigSnapshot& s, std::string_view host) {
  auto r = s.resolver->resolve_now(plain(host));
  return r ? r->proxies->to_string() : "(none)";
}

TEST(ConfigSnapshot, DerivedStateFollowsItsConfig) {
  Bed bed;
  auto s = bed.make({"http://p1:8080"}, Millis(1234));
  EXPECT_EQ(route_of(*s, "example.com"), "http://p1:8080");
  EXPECT_EQ(s->upstream.connect_timeout, Millis(1234));
  EXPECT_EQ(s->upstream_for(ClientScope::remote).connect_timeout, Millis(1234));
  // The process's resolver and filter, with the snapshot's own policy.
  EXPECT_EQ(&s->upstream_for(ClientScope::local).destinations.resolver, &bed.local.resolver);
  EXPECT_EQ(&s->upstream_for(ClientScope::local).destinations.filter, &bed.local.filter);
  EXPECT_EQ(s->upstream_for(ClientScope::local).destinations.scope, ClientScope::local);
  EXPECT_EQ(s->upstream_for(ClientScope::remote).destinations.scope, ClientScope::remote);
  EXPECT_EQ(s->upstream_for(ClientScope::local).destinations.policy, s->config->policy.get());
  EXPECT_EQ(s->upstream.via, "1.1 ferry-test");
}

TEST(ConfigSnapshot, HeldSnapshotOutlivesAPublishAndTheNextReadSeesTheNewOne) {
  Bed bed;
  SnapshotSource source(bed.make({"http://p1:8080"}, Millis(1000)));
  SnapshotCache worker(source);

  // A request in flight holds the snapshot it started under.
  SnapshotPtr in_flight = worker.get();
  std::weak_ptr<const ConfigSnapshot> first = in_flight;

  source.publish(bed.make({"http://p2:8080"}, Millis(2000)));
  EXPECT_EQ(route_of(*in_flight, "example.com"), "http://p1:8080") << "the old request keeps its route";
  EXPECT_EQ(in_flight->upstream.connect_timeout, Millis(1000));

  // The next request on this worker gets the new snapshot.
  const SnapshotPtr& next = worker.get();
  EXPECT_EQ(route_of(*next, "example.com"), "http://p2:8080");
  EXPECT_EQ(next->config->connect_timeout, Millis(2000));

  // The old one dies with its last request, not before.
  EXPECT_FALSE(first.expired());
  in_flight.reset();
  EXPECT_TRUE(first.expired());
}

TEST(ConfigSnapshot, CacheHandsOutTheSameObjectWhileNothingChanges) {
  Bed bed;
  SnapshotSource source(bed.make({}, Millis(1000)));
  SnapshotCache worker(source);
  const ConfigSnapshot* a = worker.get().get();
  const ConfigSnapshot* b = worker.get().get();
  EXPECT_EQ(a, b);
  EXPECT_EQ(source.generation(), 0u);
  source.publish(bed.make({}, Millis(1000)));
  EXPECT_EQ(source.generation(), 1u);
  EXPECT_NE(worker.get().get(), a);
}

// Publishing from one thread while another keeps taking snapshots: every
// snapshot read is whole (its route table matches its own config).
TEST(ConfigSnapshot, ConcurrentPublishAndReadSeeConsistentSnapshots) {
  Bed bed;
  SnapshotSource source(bed.make({"http://p0:8080"}, Millis(1000)));
  std::atomic<bool> stop{false};
  std::atomic<int> mismatches{0}, reads{0};
  std::thread reader([&] {
    SnapshotCache cache(source);
    while (!stop.load()) {
      SnapshotPtr s = cache.get();
      const std::string want = s->config->upstreams.front().to_redacted_string();
      if (route_of(*s, "example.com") != want) mismatches.fetch_add(1);
      reads.fetch_add(1);
    }
  });
  for (int i = 1; i <= 200; ++i) source.publish(bed.make({"http://p" + std::to_string(i) + ":8080"}, Millis(1000)));
  while (reads.load() < 1000) std::this_thread::yield();
  stop = true;
  reader.join();
  EXPECT_EQ(mismatches.load(), 0);
  EXPECT_EQ(source.generation(), 200u);
}

// What survives a swap is keyed by proxy identity, not by the snapshot's
// objects: a new route table naming the same proxy finds the same
// authenticator (its learnt scheme, its Negotiate state) and health record.
TEST(ConfigSnapshot, AuthAndHealthStateAreFoundByProxyIdentityAcrossSnapshots) {
  Bed bed;
  bed.auth.set_defaults({});
  auto before = bed.make({"http://user@p1:8080"}, Millis(1000));
  const ProxyUrl& old_proxy = *before->routes->all_proxies().front();
  bed.auth.add(old_proxy, {});
  bed.auth.bind(old_proxy);
  auto* authenticator = bed.auth.find(old_proxy);
  ASSERT_NE(authenticator, nullptr);
  bed.health.mark_failed(proxy_key(old_proxy));

  auto after = bed.make({"http://user@p1:8080", "http://p2:8080"}, Millis(1000));
  const ProxyUrl& new_proxy = *after->routes->all_proxies().front();
  ASSERT_NE(&new_proxy, &old_proxy);
  EXPECT_EQ(bed.auth.find(new_proxy), authenticator);
  EXPECT_TRUE(bed.health.is_penalised(proxy_key(new_proxy)));
  // A proxy the new snapshot adds gets its own authenticator.
  const ProxyUrl& added = *after->routes->all_proxies().back();
  EXPECT_NE(bed.auth.find(added), authenticator);
  EXPECT_NE(bed.auth.find(added), nullptr);
}

}  // namespace
}  // namespace ferry
