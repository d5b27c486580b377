#include "policy/grants.h"

#include <initializer_list>

#include "policy/host_patterns.h"

namespace ferry {

namespace {

struct Builtin {
  std::string_view name;
  std::initializer_list<std::string_view> hosts;
};

// What a client of each service reaches for its everyday work (API, package
// downloads, clones). No port: git and registries also use ports other than 443.
const Builtin kBuiltins[] = {
    {"anthropic", {"api.anthropic.com"}},
    {"aws", {"*.amazonaws.com"}},
    {"crates", {"crates.io", "index.crates.io", "static.crates.io"}},
    {"docker", {"registry-1.docker.io", "auth.docker.io", "production.cloudflare.docker.com"}},
    {"github", {"github.com", "api.github.com", "*.github.com", "*.githubusercontent.com", "codeload.github.com"}},
    {"gitlab", {"gitlab.com", "*.gitlab.com"}},
    {"golang", {"proxy.golang.org", "sum.golang.org"}},
    {"npm", {"registry.npmjs.org", "*.npmjs.org"}},
    {"openai", {"api.openai.com"}},
    {"pypi", {"pypi.org", "files.pythonhosted.org"}},
};

bool valid_name(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_')) return false;
  return true;
}

bool valid_scope(std::string_view scope) {
  if (scope.empty()) return false;
  for (unsigned char c : scope)
    if (c <= 0x20 || c >= 0x7f) return false;
  return true;
}

}  // namespace

GrantCatalog GrantCatalog::builtin() {
  GrantCatalog c;
  for (const auto& b : kBuiltins) c.groups_[std::string(b.name)] = {b.hosts.begin(), b.hosts.end()};
  return c;
}

Expected<bool> GrantCatalog::define(std::string_view name, std::vector<std::string> hosts) {
  if (!valid_name(name))
    return fail("'" + std::string(name) + "' is not a grant name (lower-case letters, digits, '-', '_')");
  for (size_t i = 0; i < hosts.size(); ++i) {
    auto canonical = HostPatternSet::canonical(hosts[i]);
    if (!canonical) return fail("hosts[" + std::to_string(i) + "]: " + canonical.error());
    hosts[i] = std::move(*canonical);
  }
  groups_[std::string(name)] = std::move(hosts);
  return true;
}

Expected<const std::vector<std::string>*> GrantCatalog::hosts(std::string_view grant) const {
  std::string_view name = grant;
  if (auto colon = grant.find(':'); colon != std::string_view::npos) {
    name = grant.substr(0, colon);
    if (!valid_scope(grant.substr(colon + 1)))
      return fail("'" + std::string(grant) + "': the scope after ':' must be non-empty visible ASCII");
  }
  auto it = groups_.find(name);
  if (it != groups_.end()) return &it->second;
  std::string known;
  for (const auto& [n, _] : groups_) known += (known.empty() ? "" : ", ") + n;
  return fail("unknown grant '" + std::string(name) + "' (known: " + known + "; define it in [grants." +
              std::string(name) + "])");
}

std::vector<std::string> GrantCatalog::names() const {
  std::vector<std::string> out;
  for (const auto& [n, _] : groups_) out.push_back(n);
  return out;
}

}  // namespace ferry
