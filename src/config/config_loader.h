#pragma once
// Turns flag values and TOML keys into a Config. Both go through the same
// setters, so a value means the same thing wherever it is written, and every
// error names where the bad value came from (flag, or file:line and key).
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/expected.h"
#include "config/config.h"
#include "config/policy_config.h"
#include "intercept/secret_value.h"

namespace ferry {

// One setting from any source, as text (arrays already split).
struct SettingValue {
  std::vector<std::string> items;
  std::string origin;  // "--listen" or "ferry.toml:3 (listen)"
};

class ConfigBuilder {
 public:
  // Applies one setting by its canonical key (e.g. "listen", "security.allow").
  // Returns an error message naming the origin.
  Expected<bool> set(std::string_view key, const SettingValue& value);
  // Loads a TOML file; unknown keys and bad values are errors with file:line.
  Expected<bool> load_toml(const std::string& path);
  // Checks cross-field rules and fills defaults.
  Expected<Config> finish();

  Config& config() { return config_; }
  // Where ${env:NAME} in [[inject]] values is looked up (default: the process environment).
  void set_env(SecretValue::EnvLookup env) { env_ = std::move(env); }

 private:
  Expected<bool> set_interception(std::string_view key, const SettingValue& value);
  // [[relay]] or [[mcp]] (`kind`) entries (SPEC §7 "Relays").
  Expected<bool> load_relays(const std::string& path, std::string_view kind, const toml::node& node);
  // [grants], [policy] and [profiles.NAME] (SPEC §7), after the other keys.
  Expected<bool> load_policies(const std::string& path, const toml::node* policy, const toml::node* grants,
                               const toml::node* profiles);

  std::optional<GrantCatalog> grants_;  // built-in groups plus [grants.NAME]

  Config config_;
  SecretValue::EnvLookup env_ = [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    return v ? std::optional<std::string>(v) : std::nullopt;
  };
};

// Keys accepted in TOML, by their dotted path, with the flag that sets the same thing.
struct KnownKey {
  std::string_view toml_key;
  std::string_view flag;
  bool implemented;
};
const std::vector<KnownKey>& known_keys();
// Keys that are on/off switches: the flag takes no value ("--flag" means
// true); the TOML key takes a boolean.
bool is_switch_key(std::string_view toml_key);

}  // namespace ferry
