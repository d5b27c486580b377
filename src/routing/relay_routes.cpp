#include "routing/relay_routes.h"

#include <cctype>

#include "base/host_port.h"

namespace ferry {

namespace {

// Why `path` (the part after the route's prefix, before any '?') may not be
// relayed, or "" when it may.
std::string traversal_problem(std::string_view path) {
  for (unsigned char c : path)
    if (c < 0x20 || c == 0x7f) return "a control byte";
  if (path.find('\\') != std::string_view::npos) return "a backslash";
  for (size_t i = 0; i + 2 < path.size(); ++i) {
    if (path[i] != '%') continue;
    const std::string_view code = path.substr(i + 1, 2);
    if (iequals(code, "2f") || iequals(code, "5c")) return "an encoded slash";
    if (iequals(code, "2e")) return "an encoded dot";
    if (code == "00") return "an encoded NUL";
  }
  // Dot segments: "." or ".." between slashes (RFC 3986 §5.2.4 would remove
  // them; a relay refuses instead of guessing).
  size_t start = 0;
  while (start <= path.size()) {
    const size_t end = std::min(path.find('/', start), path.size());
    std::string_view segment = path.substr(start, end - start);
    // Path parameters ("..;x") are dropped by some servers (Tomcat,
    // Spring), which then see a dot segment.
    segment = segment.substr(0, segment.find(';'));
    if (segment == "." || segment == "..") return "a dot segment";
    start = end + 1;
  }
  return {};
}

}  // namespace

std::optional<Expected<http::AbsoluteTarget, ProxyError>> relay_target(const std::vector<RelayRoute>& routes,
                                                                       std::string_view origin_form) {
  for (const auto& r : routes) {
    if (!origin_form.starts_with(r.prefix)) continue;
    std::string_view rest = origin_form.substr(r.prefix.size());
    if (!rest.empty() && rest.front() != '/' && rest.front() != '?') continue;  // "/relay/ab" is not "/relay/a"
    const size_t q = rest.find('?');
    const std::string_view path = rest.substr(0, q);
    const std::string_view query = q == std::string_view::npos ? std::string_view{} : rest.substr(q);
    if (auto problem = traversal_problem(path); !problem.empty())
      return Unexpected{ProxyError{ProxyErrc::http_request_error,
                                   "relay path refused: it contains " + problem + " (" + r.prefix + ")"}};
    http::AbsoluteTarget t = r.base;
    std::string joined = r.base.origin_form == "/" ? std::string() : r.base.origin_form;
    joined += path.empty() ? std::string_view("/") : path;
    joined += query;
    t.origin_form = std::move(joined);
    return t;
  }
  return std::nullopt;
}

Expected<RelayRoute> make_relay_route(std::string_view kind, std::string_view name, std::string_view target) {
  if (name.empty()) return fail(std::string(kind) + " needs a name");
  for (unsigned char c : name)
    if (!std::isalnum(c) && c != '-' && c != '_' && c != '.')
      return fail(std::string(kind) + " name '" + std::string(name) +
                  "' may hold only letters, digits, '-', '_' and '.'");
  auto base = http::parse_absolute_target(target);
  if (!base) return fail(std::string(kind) + " " + std::string(name) + ": target: " + base.error());
  if (base->origin_form.find('?') != std::string::npos)
    return fail(std::string(kind) + " " + std::string(name) + ": target may not have a query");
  while (base->origin_form.size() > 1 && base->origin_form.back() == '/') base->origin_form.pop_back();
  return RelayRoute{"/" + std::string(kind) + "/" + std::string(name), std::move(*base)};
}

}  // namespace ferry
