#include "server/request_injection.h"

namespace ferry {

std::vector<std::string_view> RequestInjection::field_name_list() const {
  std::vector<std::string_view> names;
  for (const auto& r : rules) {
    if (r.rule->header) names.push_back(r.rule->header->name);
    for (const auto& h : r.rule->add_headers) names.push_back(h.name);
  }
  return names;
}

std::string RequestInjection::field_names() const {
  std::string joined;
  for (auto n : field_name_list()) {
    if (!joined.empty()) joined += ", ";
    joined += n;
  }
  return joined;
}

std::vector<std::string_view> RequestInjection::secrets() const {
  std::vector<std::string_view> values;
  for (const auto& r : rules) {
    if (r.header) values.push_back(r.header->view());
    for (const auto& s : r.add_headers) values.push_back(s.view());
    if (r.substitute) values.push_back(r.substitute->view());
  }
  return values;
}

void RequestInjection::origin_refused() const {
  for (const auto& r : rules) r.rule->invalidate();
}

awaitable<Expected<std::shared_ptr<const RequestInjection>, ProxyError>> resolve_injection(BlockingPool& blocking,
                                                                                           const InjectRules& rules) {
  bool may_block = false;
  for (const auto& r : rules) may_block = may_block || r->may_block();
  auto resolve_all = [&]() -> Expected<std::shared_ptr<const RequestInjection>, ProxyError> {
    auto out = std::make_shared<RequestInjection>();
    for (const auto& r : rules) {
      auto resolved = resolve_rule(r);
      if (!resolved)
        return Unexpected{
            ProxyError{ProxyErrc::proxy_configuration_error, "cannot inject the credential of " + resolved.error()}};
      out->rules.push_back(std::move(*resolved));
    }
    return std::shared_ptr<const RequestInjection>(std::move(out));
  };
  auto result = co_await off_loop(blocking, resolve_all, may_block);
  co_return result;
}

}  // namespace ferry
