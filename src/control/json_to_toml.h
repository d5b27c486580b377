#pragma once
// JSON → TOML for the inline rules of POST /v1/runs: `inject` (an array of
// objects with the keys of [[inject]]) and `policy` (an object with the
// keys of [policy]) become toml++ nodes, so the TOML parsers of the config
// file (load_inject_rules, parse_policy) check them: one grammar, one set
// of error messages.
#include <toml++/toml.h>
#include <boost/json/value.hpp>

#include <memory>
#include <string>

#include "base/expected.h"

namespace ferry {

// null has no TOML form, nor has an integer above INT64_MAX: both are
// errors naming the field's path (`where`, e.g. "inject[0].port"), never
// its value. Strings, booleans, integers, doubles, arrays (mixed element
// types allowed, as TOML 1.0 allows) and objects map one to one.
Expected<std::unique_ptr<toml::node>> json_to_toml(const boost::json::value& json, const std::string& where);

// The same for a value known to be an object / an array.
Expected<toml::table> json_object_to_toml(const boost::json::object& json, const std::string& where);
Expected<toml::array> json_array_to_toml(const boost::json::array& json, const std::string& where);

}  // namespace ferry
