#pragma once
// A StaticProxyResolver that owns its RouteTable: the route of a profile
// with its own `upstream` list (SPEC §7 "Profiles"), shared by the profile
// and every run made from it.
#include <memory>

#include "routing/proxy_resolver.h"
#include "routing/route_table.h"

namespace ferry {

class OwnedRouteResolver final : public ProxyResolver {
 public:
  explicit OwnedRouteResolver(RouteTable table) : table_(std::move(table)), static_(table_) {}
  OwnedRouteResolver(const OwnedRouteResolver&) = delete;
  OwnedRouteResolver& operator=(const OwnedRouteResolver&) = delete;

  awaitable<Expected<Resolution, ProxyError>> resolve(const RouteQuery& query) override {
    co_return static_.answer(query);
  }
  std::optional<Resolution> resolve_now(const RouteQuery& query) const override { return static_.answer(query); }
  const RouteTable& table() const { return table_; }

 private:
  const RouteTable table_;
  StaticProxyResolver static_;  // views table_
};

}  // namespace ferry
