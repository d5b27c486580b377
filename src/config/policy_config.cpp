#include "config/policy_config.h"

namespace ferry {

namespace {

// Every element a string: "KEY: must be an array of strings" otherwise.
Expected<std::vector<std::string>> string_array(const toml::node& node, const std::string& key) {
  const auto* array = node.as_array();
  if (!array) return fail(key + ": must be an array of strings");
  std::vector<std::string> out;
  for (size_t i = 0; i < array->size(); ++i) {
    const auto* s = (*array)[i].as_string();
    if (!s) return fail(key + "[" + std::to_string(i) + "]: must be a string");
    out.push_back(s->get());
  }
  return out;
}

}  // namespace

Expected<std::shared_ptr<const NetworkPolicy>> parse_policy(const toml::table& policy, const GrantCatalog& grants,
                                                            std::string_view where) {
  const std::string prefix = std::string(where) + ".";
  PolicySpec spec;
  bool mode_given = false;
  for (const auto& [k, node] : policy) {
    const std::string key = prefix + std::string(k.str());
    if (k == "mode") {
      const auto* s = node.as_string();
      if (!s) return fail(key + ": must be \"permissive\" or \"strict\"");
      if (s->get() == "strict") spec.mode = PolicyMode::strict;
      else if (s->get() == "permissive") spec.mode = PolicyMode::permissive;
      else return fail(key + ": \"" + s->get() + "\" is not permissive or strict");
      mode_given = true;
    } else if (k == "allow" || k == "grants" || k == "deny_ips") {
      auto list = string_array(node, key);
      if (!list) return fail(list.error());
      if (k == "allow") spec.allow = std::move(*list);
      else if (k == "grants") spec.grants = std::move(*list);
      else spec.deny_ips = std::move(*list);
    } else if (k == "deny_private") {
      const auto* b = node.as_boolean();
      if (!b) return fail(key + ": must be true or false");
      spec.deny_private = b->get();
    } else {
      return fail(key + ": unknown key (policy keys: mode, allow, grants, deny_ips, deny_private)");
    }
  }
  if (!mode_given && (!spec.allow.empty() || !spec.grants.empty()))
    return fail(prefix + "mode: missing: say mode = \"strict\" for allow and grants to restrict anything");
  auto built = NetworkPolicy::create(spec, grants);
  if (!built) return fail(prefix + built.error());
  return built;
}

Expected<GrantCatalog> parse_grants(const toml::table* grants_table) {
  GrantCatalog catalog = GrantCatalog::builtin();
  if (!grants_table) return catalog;
  for (const auto& [k, node] : *grants_table) {
    const std::string key = "grants." + std::string(k.str());
    const auto* group = node.as_table();
    if (!group) return fail(key + ": must be a table: [" + key + "] hosts = [\"host\", \"*.domain\"]");
    std::vector<std::string> hosts;
    bool has_hosts = false;
    for (const auto& [gk, gnode] : *group) {
      if (gk != "hosts") return fail(key + "." + std::string(gk.str()) + ": unknown key (a grant has hosts)");
      auto list = string_array(gnode, key + ".hosts");
      if (!list) return fail(list.error());
      hosts = std::move(*list);
      has_hosts = true;
    }
    if (!has_hosts) return fail(key + ".hosts: missing");
    if (auto r = catalog.define(k.str(), std::move(hosts)); !r) {
      // define() names the failing hosts[i], or the grant name itself.
      const bool about_hosts = r.error().starts_with("hosts[");
      return fail(about_hosts ? key + "." + r.error() : key + ": " + r.error());
    }
  }
  return catalog;
}

}  // namespace ferry
