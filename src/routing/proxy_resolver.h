#pragma once
// Where a request goes, as an asynchronous question (review rec. 6): the
// answer is an ordered list of proxy chains, DIRECT being one of them, the
// shape a PAC result has ("PROXY a:8080; PROXY b:8080; DIRECT"). The static
// rules of SPEC §3 are one implementation; PAC will be another, composed
// after the bypass rules. Callers dial the list in order with failover.
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/expected.h"
#include "base/host_port.h"
#include "base/proxy_error.h"
#include "net/asio.h"
#include "routing/route_table.h"

namespace ferry {

// One way out: the proxies to go through, nearest first; none = DIRECT.
// Proxies are shared (the static table's live as long as the process; a
// PAC's as long as a result names them), never copied per request.
struct ProxyChain {
  std::vector<std::shared_ptr<const ProxyUrl>> hops;
  bool direct() const { return hops.empty(); }
  const ProxyUrl& first() const { return *hops.front(); }
  // "DIRECT", or the redacted URLs joined by " > ".
  std::string to_string() const;
};

// Chains in failover order. Never empty.
struct ProxyList {
  std::vector<ProxyChain> chains;
  bool direct_only() const { return chains.size() == 1 && chains.front().direct(); }
  std::string to_string() const;  // "DIRECT", "http://a:8080; DIRECT"
};
using ProxyListPtr = std::shared_ptr<const ProxyList>;

// What is being routed, in pieces (views into the request): the static
// rules need only kind, host and port; PAC needs the URL, built on demand.
struct RouteQuery {
  TrafficKind kind = TrafficKind::plain_http;
  std::string_view host;
  uint16_t port = 0;
  std::string_view authority;   // "host[:port]" as in the URL
  std::string_view path = "/";  // origin-form target; "/" for tunnels
  // What PAC's FindProxyForURL sees: the whole URL for plain HTTP,
  // "https://host:port/" for CONNECT and raw tunnels (as browsers pass it,
  // path withheld).
  std::string url() const;
  // A raw tunnel's query (CONNECT, SOCKS5, `ferry connect`); `authority` is
  // target.to_string(), kept alive by the caller.
  static RouteQuery tunnel(const HostPort& target, std::string_view authority) {
    RouteQuery q;
    q.kind = TrafficKind::tunnel;
    q.host = target.host;
    q.port = target.port;
    q.authority = authority;
    return q;
  }
};

struct Resolution {
  ProxyListPtr proxies;
  std::string rule;  // why, in words, for logs and `ferry route`
};

class ProxyResolver {
 public:
  virtual ~ProxyResolver() = default;
  // An error is a configuration problem the client is told about (502
  // proxy_configuration_error), e.g. a PAC that failed with --pac-on-error fail.
  virtual awaitable<Expected<Resolution, ProxyError>> resolve(const RouteQuery& query) = 0;
  // The answer without waiting when the resolver has it at hand (the static
  // rules always do), so the common case costs no coroutine; nullopt: await
  // resolve().
  virtual std::optional<Resolution> resolve_now(const RouteQuery& query) const = 0;
};

// SPEC §3's static rules over a RouteTable: loopback, exact bypass,
// NO_PROXY, upstreams (flags/config, else environment), else direct. Every
// list it can answer is built once, so a request costs no allocation here.
class StaticProxyResolver final : public ProxyResolver {
 public:
  // `table` must outlive the resolver; its proxies are shared, not copied.
  explicit StaticProxyResolver(const RouteTable& table);
  awaitable<Expected<Resolution, ProxyError>> resolve(const RouteQuery& query) override;
  std::optional<Resolution> resolve_now(const RouteQuery& query) const override { return answer(query); }
  // The same answer, as a plain value (the static rules never wait).
  Resolution answer(const RouteQuery& query) const;

 private:
  const ProxyListPtr& list_for(const RouteDecision& d) const;

  const RouteTable& table_;
  ProxyListPtr direct_;
  // One list per proxy span the table can answer with, found by the span's start.
  std::vector<std::pair<const ProxyUrl*, ProxyListPtr>> lists_;
};

// A list of the given chains (for one-off callers and tests).
ProxyListPtr make_proxy_list(std::vector<ProxyChain> chains);
ProxyChain direct_chain();
ProxyChain proxy_chain(ProxyUrl proxy);

}  // namespace ferry
