#include "routing/proxy_resolver.h"

namespace ferry {

std::string ProxyChain::to_string() const {
  if (direct()) return "DIRECT";
  std::string s;
  for (const auto& h : hops) s += (s.empty() ? "" : " > ") + h->to_redacted_string();
  return s;
}

std::string ProxyList::to_string() const {
  std::string s;
  for (const auto& c : chains) s += (s.empty() ? "" : "; ") + c.to_string();
  return s;
}

std::string RouteQuery::url() const {
  std::string u = kind == TrafficKind::plain_http ? "http://" : "https://";
  u += authority;
  u += kind == TrafficKind::tunnel ? std::string_view("/") : path;
  return u;
}

ProxyListPtr make_proxy_list(std::vector<ProxyChain> chains) {
  auto list = std::make_shared<ProxyList>();
  list->chains = std::move(chains);
  if (list->chains.empty()) list->chains.push_back(direct_chain());
  return list;
}

ProxyChain direct_chain() { return ProxyChain{}; }

ProxyChain proxy_chain(ProxyUrl proxy) {
  ProxyChain c;
  c.hops.push_back(std::make_shared<const ProxyUrl>(std::move(proxy)));
  return c;
}

StaticProxyResolver::StaticProxyResolver(const RouteTable& table)
    : table_(table), direct_(make_proxy_list({direct_chain()})) {
  // The table's proxies are shared without ownership: the table outlives
  // the resolver, and the AuthRegistry recognises them by address.
  for (const auto& span : table.proxy_spans()) {
    if (span.empty()) continue;
    std::vector<ProxyChain> chains;
    for (const ProxyUrl& p : span) {
      ProxyChain c;
      c.hops.push_back(std::shared_ptr<const ProxyUrl>(std::shared_ptr<const ProxyUrl>(), &p));
      chains.push_back(std::move(c));
    }
    lists_.emplace_back(span.data(), make_proxy_list(std::move(chains)));
  }
}

const ProxyListPtr& StaticProxyResolver::list_for(const RouteDecision& d) const {
  if (d.direct) return direct_;
  for (const auto& [start, list] : lists_)
    if (start == d.proxies.data()) return list;
  return direct_;  // unreachable: every span the table answers with was listed
}

Resolution StaticProxyResolver::answer(const RouteQuery& query) const {
  RouteDecision d = table_.route(query.kind, query.host, query.port);
  return Resolution{list_for(d), std::move(d.rule)};
}

awaitable<Expected<Resolution, ProxyError>> StaticProxyResolver::resolve(const RouteQuery& query) {
  co_return answer(query);
}

}  // namespace ferry
