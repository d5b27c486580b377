#include "config/inject_config.h"

#include "base/host_port.h"

namespace ferry {

namespace {

constexpr std::string_view kKeys[] = {"host",           "port",       "header",          "value", "add_headers",
                                      "remove_headers", "substitute", "scrub_responses", "ttl"};

// Parses one [[inject]] table; every error goes through where().
class RuleParser {
 public:
  RuleParser(const toml::table& table, const std::string& path, const SecretValue::EnvLookup& env, size_t number)
      : table_(table), path_(path), env_(env) {
    rule_.number = number;
    rule_.origin = path + ":" + std::to_string(table.source().begin.line);
  }

  Expected<InjectRule> parse() {
    for (const auto& [k, node] : table_) {
      const std::string_view key = k.str();
      bool known = false;
      for (auto x : kKeys) known = known || x == key;
      if (!known) return bad(node, key, "unknown key 'inject." + std::string(key) + "'");
    }
    // ttl first: the values' options need it.
    if (auto r = parse_ttl(); !r) return fail(r.error());
    if (auto r = parse_host(); !r) return fail(r.error());
    if (auto r = parse_header(); !r) return fail(r.error());
    if (auto r = parse_add_headers(); !r) return fail(r.error());
    if (auto r = parse_remove_headers(); !r) return fail(r.error());
    if (auto r = parse_substitute(); !r) return fail(r.error());
    if (const auto* n = table_.get("scrub_responses")) {
      const auto* b = n->as_boolean();
      if (!b) return bad(*n, "scrub_responses", "must be true or false");
      rule_.scrub_responses = b->get();
      if (rule_.scrub_responses && !rule_.substitute)
        return bad(*n, "scrub_responses", "needs substitute (the placeholder that replaces the real value)");
    }
    if (!rule_.header && rule_.add_headers.empty() && rule_.remove_headers.empty() && !rule_.substitute)
      return fail(rule_.origin +
                  " (inject): a rule needs at least one of header, add_headers, remove_headers, substitute");
    return std::move(rule_);
  }

 private:
  Unexpected<std::string> bad(const toml::node& node, std::string_view key, const std::string& what) const {
    return fail(path_ + ":" + std::to_string(node.source().begin.line) + " (inject." + std::string(key) + "): " + what);
  }

  Expected<SecretValue> secret(const toml::node& node, std::string_view key) const {
    const auto* s = node.as_string();
    if (!s) return bad(node, key, "must be a string");
    auto v = SecretValue::parse(s->get(), env_, options_);
    if (!v) return bad(node, key, v.error());
    return v;
  }

  Expected<bool> parse_ttl() {
    const auto* n = table_.get("ttl");
    if (!n) return true;
    std::string text;
    if (const auto* s = n->as_string()) text = s->get();
    else if (const auto* i = n->as_integer()) text = std::to_string(i->get());
    else return bad(*n, "ttl", "must be a duration such as \"5m\"");
    auto d = parse_duration(text);
    if (!d) return bad(*n, "ttl", d.error());
    options_.ttl = *d;
    return true;
  }

  Expected<bool> parse_host() {
    const auto* n = table_.get("host");
    if (!n) return fail(rule_.origin + " (inject.host): missing; a rule needs host");
    const auto* s = n->as_string();
    if (!s) return bad(*n, "host", "must be a string");
    auto p = HostPattern::parse(s->get());
    if (!p) return bad(*n, "host", p.error());
    rule_.host = *p;
    if (const auto* pn = table_.get("port")) {
      const auto* i = pn->as_integer();
      if (!i || i->get() < 1 || i->get() > 65535) return bad(*pn, "port", "must be a port number (1-65535)");
      rule_.port = uint16_t(i->get());
    }
    return true;
  }

  Expected<bool> parse_header() {
    const auto* name = table_.get("header");
    const auto* value = table_.get("value");
    if (!name && !value) return true;
    if (!name) return bad(*value, "value", "needs header (the name of the header it sets)");
    if (!value) return bad(*name, "header", "needs value");
    const auto* s = name->as_string();
    if (!s) return bad(*name, "header", "must be a string");
    if (auto r = check_rule_header_name(s->get()); !r) return bad(*name, "header", r.error());
    auto v = secret(*value, "value");
    if (!v) return fail(v.error());
    rule_.header = HeaderValue{s->get(), std::move(*v)};
    return true;
  }

  Expected<bool> parse_add_headers() {
    const auto* n = table_.get("add_headers");
    if (!n) return true;
    const auto* t = n->as_table();
    if (!t) return bad(*n, "add_headers", "must be a table of header name = value");
    for (const auto& [k, node] : *t) {
      const std::string name(k.str());
      const std::string key = "add_headers." + name;
      if (auto r = check_rule_header_name(name); !r) return bad(node, key, r.error());
      auto v = secret(node, key);
      if (!v) return fail(v.error());
      rule_.add_headers.push_back(HeaderValue{name, std::move(*v)});
    }
    return true;
  }

  Expected<bool> parse_remove_headers() {
    const auto* n = table_.get("remove_headers");
    if (!n) return true;
    const auto* a = n->as_array();
    if (!a) return bad(*n, "remove_headers", "must be an array of header names");
    for (const auto& el : *a) {
      const auto* s = el.as_string();
      if (!s) return bad(el, "remove_headers", "must be an array of header names");
      if (auto r = check_rule_header_name(s->get()); !r) return bad(el, "remove_headers", r.error());
      rule_.remove_headers.push_back(s->get());
    }
    return true;
  }

  Expected<bool> parse_substitute() {
    const auto* n = table_.get("substitute");
    if (!n) return true;
    const auto* t = n->as_table();
    if (!t) return bad(*n, "substitute", "must be a table { placeholder = \"...\", value = \"...\" }");
    for (const auto& [k, node] : *t)
      if (k.str() != "placeholder" && k.str() != "value")
        return bad(node, "substitute." + std::string(k.str()), "unknown key (use placeholder and value)");
    const auto* ph = t->get("placeholder");
    const auto* value = t->get("value");
    if (!ph) return bad(*n, "substitute.placeholder", "missing");
    if (!value) return bad(*n, "substitute.value", "missing");
    const auto* ps = ph->as_string();
    if (!ps) return bad(*ph, "substitute.placeholder", "must be a string");
    const std::string& placeholder = ps->get();
    if (placeholder.empty()) return bad(*ph, "substitute.placeholder", "must not be empty");
    // It appears in request-targets and is written into scrubbed responses.
    for (unsigned char c : placeholder)
      if (c <= 0x20 || c >= 0x7f) return bad(*ph, "substitute.placeholder", "must be visible ASCII (no spaces)");
    auto v = secret(*value, "substitute.value");
    if (!v) return fail(v.error());
    rule_.substitute = Substitution{placeholder, std::move(*v)};
    return true;
  }

  const toml::table& table_;
  const std::string& path_;
  const SecretValue::EnvLookup& env_;
  SecretValue::Options options_;
  InjectRule rule_;
};

}  // namespace

Expected<InjectRules> load_inject_rules(const toml::node& node, const std::string& path,
                                        const SecretValue::EnvLookup& env, size_t first_number) {
  const std::string origin = path + ":" + std::to_string(node.source().begin.line) + " (inject)";
  const auto* array = node.as_array();
  if (!array) return fail(origin + ": must be an array of tables: write each rule as [[inject]]");
  InjectRules rules;
  for (const auto& el : *array) {
    const auto* table = el.as_table();
    if (!table) return fail(origin + ": must be an array of tables: write each rule as [[inject]]");
    auto rule = RuleParser(*table, path, env, first_number + rules.size()).parse();
    if (!rule) return fail(rule.error());
    rules.push_back(std::make_shared<const InjectRule>(std::move(*rule)));
  }
  return rules;
}

}  // namespace ferry
