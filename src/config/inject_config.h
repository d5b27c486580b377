#pragma once
// [[inject]] tables (SPEC §7) from a TOML file into InjectRules. Errors name
// file:line and the key ("ferry.toml:12 (inject.value): ..."), never a value.
#include <toml++/toml.h>

#include <string>

#include "base/expected.h"
#include "intercept/inject_rule.h"
#include "intercept/secret_value.h"

namespace ferry {

// `node` is the value of the top-level key "inject" in `path`.
Expected<InjectRules> load_inject_rules(const toml::node& node, const std::string& path,
                                        const SecretValue::EnvLookup& env);

}  // namespace ferry
