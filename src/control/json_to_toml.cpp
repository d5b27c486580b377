#include "control/json_to_toml.h"

#include <boost/json.hpp>

#include <cstdint>
#include <limits>

namespace ferry {

Expected<toml::table> json_object_to_toml(const boost::json::object& json, const std::string& where) {
  toml::table out;
  for (const auto& [key, value] : json) {
    const std::string name(key);
    auto node = json_to_toml(value, where.empty() ? name : where + "." + name);
    if (!node) return Unexpected{node.error()};
    out.insert(name, std::move(**node));
  }
  return out;
}

Expected<toml::array> json_array_to_toml(const boost::json::array& json, const std::string& where) {
  toml::array out;
  for (size_t i = 0; i < json.size(); ++i) {
    auto node = json_to_toml(json[i], where + "[" + std::to_string(i) + "]");
    if (!node) return Unexpected{node.error()};
    out.push_back(std::move(**node));
  }
  return out;
}

Expected<std::unique_ptr<toml::node>> json_to_toml(const boost::json::value& json, const std::string& where) {
  using Node = std::unique_ptr<toml::node>;
  switch (json.kind()) {
    case boost::json::kind::null: return fail(where + ": null is not allowed (leave the field out instead)");
    case boost::json::kind::bool_: return Node(std::make_unique<toml::value<bool>>(json.get_bool()));
    case boost::json::kind::int64: return Node(std::make_unique<toml::value<int64_t>>(json.get_int64()));
    case boost::json::kind::uint64:
      if (json.get_uint64() > uint64_t(std::numeric_limits<int64_t>::max()))
        return fail(where + ": the integer is too large");
      return Node(std::make_unique<toml::value<int64_t>>(int64_t(json.get_uint64())));
    case boost::json::kind::double_: return Node(std::make_unique<toml::value<double>>(json.get_double()));
    case boost::json::kind::string:
      return Node(std::make_unique<toml::value<std::string>>(std::string(json.get_string())));
    case boost::json::kind::array: {
      auto array = json_array_to_toml(json.get_array(), where);
      if (!array) return Unexpected{array.error()};
      return Node(std::make_unique<toml::array>(std::move(*array)));
    }
    case boost::json::kind::object: {
      auto table = json_object_to_toml(json.get_object(), where);
      if (!table) return Unexpected{table.error()};
      return Node(std::make_unique<toml::table>(std::move(*table)));
    }
  }
  return fail(where + ": unsupported JSON value");
}

}  // namespace ferry
