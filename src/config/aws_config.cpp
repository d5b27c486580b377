#include "config/aws_config.h"

#include "base/duration.h"
#include "http/request_target.h"

namespace ferry {

namespace {

constexpr std::string_view kKeys =
    "role_arn, region, session_duration, external_id, session_name, credential_process, sts_endpoint";

Expected<std::string> string_value(const toml::node& node, const std::string& key) {
  const auto* s = node.as_string();
  if (!s) return fail(key + ": must be a string");
  return s->get();
}

Expected<std::chrono::seconds> duration_value(const toml::node& node, const std::string& key) {
  if (const auto* i = node.as_integer()) return std::chrono::seconds(i->get());
  const auto* s = node.as_string();
  if (!s) return fail(key + ": must be a duration (\"1h\", \"90m\") or a number of seconds");
  auto d = parse_duration(s->get());
  if (!d) return fail(key + ": " + d.error());
  if (*d % std::chrono::seconds(1) != Millis(0)) return fail(key + ": must be whole seconds");
  return std::chrono::duration_cast<std::chrono::seconds>(*d);
}

bool is_string_key(std::string_view k) {
  for (std::string_view known :
       {"role_arn", "region", "external_id", "session_name", "credential_process", "sts_endpoint"})
    if (k == known) return true;
  return false;
}

// "${exec:COMMAND}" as the whole value is COMMAND (the form of [[inject]] values).
std::string unwrap_exec(std::string s) {
  if (s.starts_with("${exec:") && s.ends_with("}") && s.size() > 8) return s.substr(7, s.size() - 8);
  return s;
}

}  // namespace

Expected<aws::AwsRoleConfig> parse_aws_config(const toml::table& table, std::string_view where) {
  const std::string prefix = std::string(where) + ".";
  aws::AwsRoleConfig c;
  bool has_arn = false, has_region = false;
  for (const auto& [k, node] : table) {
    const std::string key = prefix + std::string(k.str());
    if (k == "session_duration") {
      auto d = duration_value(node, key);
      if (!d) return fail(d.error());
      c.session_duration = *d;
      continue;
    }
    if (!is_string_key(k.str())) return fail(key + ": unknown key (aws keys: " + std::string(kKeys) + ")");
    auto v = string_value(node, key);
    if (!v) return fail(v.error());
    if (k == "role_arn") {
      c.role_arn = std::move(*v);
      has_arn = true;
    } else if (k == "region") {
      c.region = std::move(*v);
      has_region = true;
    } else if (k == "external_id") {
      c.external_id = std::move(*v);
    } else if (k == "session_name") {
      c.session_name = std::move(*v);
    } else if (k == "credential_process") {
      c.credential_process = unwrap_exec(std::move(*v));
      if (c.credential_process.empty()) return fail(key + ": empty (leave it out to use the environment)");
    } else {  // sts_endpoint
      auto target = http::parse_absolute_target(*v);
      if (!target) return fail(key + ": '" + *v + "' is not an http(s) URL: " + target.error());
      if (target->origin_form.find('?') != std::string::npos) return fail(key + ": must not have a query");
      c.sts_endpoint = std::move(*v);
    }
  }
  if (!has_arn) return fail(prefix + "role_arn: missing");
  if (!has_region) return fail(prefix + "region: missing");
  if (auto ok = aws::validate_role_config(c); !ok) return fail(prefix + ok.error());
  return c;
}

}  // namespace ferry
