#pragma once
// [[inject]] tables (SPEC §7) from a TOML file into InjectRules. Errors name
// file:line and the key ("ferry.toml:12 (inject.value): ..."), never a value.
#include <toml++/toml.h>

#include <string>

#include "base/expected.h"
#include "intercept/inject_rule.h"
#include "intercept/secret_value.h"

namespace ferry {

// `node` is the value of the top-level key "inject" in `path` (or of a
// profile's); rules are numbered from `first_number` ("rule N" in route).
Expected<InjectRules> load_inject_rules(const toml::node& node, const std::string& path,
                                        const SecretValue::EnvLookup& env, size_t first_number = 1);

}  // namespace ferry
