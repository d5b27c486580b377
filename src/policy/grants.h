#pragma once
// Grants (SPEC §7 "Policy"): named host groups a policy lists instead of the
// hosts themselves (`grants = ["github", "npm"]`). ferry ships groups for
// common providers; `[grants.NAME] hosts = [...]` adds a group or replaces a
// built-in one. A scoped name, `github:repo`, uses NAME's hosts: the scope
// says what the grant is for (a token's scope, for instance) and narrows
// nothing at the network level, where only hosts are seen.
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/expected.h"

namespace ferry {

class GrantCatalog {
 public:
  // The built-in groups only: anthropic, aws, crates, docker, github, gitlab,
  // golang, npm, openai, pypi.
  static GrantCatalog builtin();

  // Adds NAME or replaces its hosts. NAME: lower-case letters, digits, '-'
  // and '_'; each host a HostPatternSet pattern. Errors name the grant and
  // the pattern.
  Expected<bool> define(std::string_view name, std::vector<std::string> hosts);

  // The hosts of "NAME" or "NAME:scope"; an unknown name is an error that
  // names it and lists the known ones.
  Expected<const std::vector<std::string>*> hosts(std::string_view grant) const;

  std::vector<std::string> names() const;

 private:
  std::map<std::string, std::vector<std::string>, std::less<>> groups_;
};

}  // namespace ferry
