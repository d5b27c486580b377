#pragma once
// [policy] and [grants] (SPEC §7 "Policy") from TOML into a NetworkPolicy:
//
//   [grants.internal]                 # adds a group, or replaces a built-in
//   hosts = ["git.corp", "*.artifacts.corp:443"]
//   [policy]                          # or a profile's  policy = { ... }
//   mode = "strict"                   # "permissive" | "strict"
//   allow = ["api.example.com", "*.example.org", "10.0.0.0/8:22"]
//   grants = ["github", "internal"]
//   deny_ips = ["169.254.0.0/16"]     # absent: the default; [] turns it off
//   deny_private = true
//
// `mode` may be left out only when there is no allow and no grants (a
// permissive policy that only sets deny_ips/deny_private): an allow list
// under a mode nobody wrote would silently allow everything.
// Unknown keys are errors. Errors start with the key path and name the value:
//   policy.mode: "strikt" is not permissive or strict
//   policy.allow[3]: 'a b' is not a host name, *.domain, …
//   grants.internal.hosts[0]: …
// (Array indexes count from 0.) They never carry a file name or line: the
// caller prefixes its file ("ferry.toml: ").
#include <toml++/toml.h>

#include <memory>
#include <string_view>

#include "base/expected.h"
#include "policy/grants.h"
#include "policy/network_policy.h"

namespace ferry {

// `policy` is the [policy] table or a profile's inline `policy = {...}`;
// `where` is its key path ("policy", "profiles.ci.policy"), which starts every
// error. `grants` comes from parse_grants.
Expected<std::shared_ptr<const NetworkPolicy>> parse_policy(const toml::table& policy, const GrantCatalog& grants,
                                                            std::string_view where);

// The top-level [grants] table, or null when the file has none (the
// built-in groups only).
Expected<GrantCatalog> parse_grants(const toml::table* grants_table);

}  // namespace ferry
