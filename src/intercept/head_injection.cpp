#include "intercept/head_injection.h"

#include <string_view>

#include "base/host_port.h"

namespace ferry {

namespace {

struct Field {
  std::string name;
  std::string value;
};

// A head split into its start line and fields. The head is one ferry built,
// so every line is well-formed; parsing only has to find the pieces.
struct SplitHead {
  std::string start_line;
  std::vector<Field> fields;

  static SplitHead parse(std::string_view head) {
    SplitHead out;
    size_t eol = head.find("\r\n");
    out.start_line = head.substr(0, eol);
    size_t pos = eol == head.npos ? head.size() : eol + 2;
    while (pos < head.size()) {
      eol = head.find("\r\n", pos);
      if (eol == head.npos || eol == pos) break;  // the blank line ends the head
      const std::string_view line = head.substr(pos, eol - pos);
      const size_t colon = line.find(':');
      std::string_view value = colon == line.npos ? std::string_view() : line.substr(colon + 1);
      while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
      out.fields.push_back(Field{std::string(line.substr(0, colon)), std::string(value)});
      pos = eol + 2;
    }
    return out;
  }

  std::string build() const {
    size_t size = start_line.size() + 4;
    for (const auto& f : fields) size += f.name.size() + f.value.size() + 4;
    std::string out;
    out.reserve(size);
    out += start_line;
    out += "\r\n";
    for (const auto& f : fields) {
      out += f.name;
      out += ": ";
      out += f.value;
      out += "\r\n";
    }
    out += "\r\n";
    return out;
  }

  void remove(std::string_view name) {
    std::erase_if(fields, [&](const Field& f) { return iequals(f.name, name); });
  }
  void set(std::string_view name, std::string_view value) {
    remove(name);
    fields.push_back(Field{std::string(name), std::string(value)});
  }
};

bool is_framing_or_routing(std::string_view name) {
  return iequals(name, "host") || iequals(name, "content-length") || iequals(name, "transfer-encoding");
}

// HTAB, SP, VCHAR, obs-text (RFC 9110 §5.5).
bool valid_field_value(std::string_view v) {
  for (unsigned char c : v)
    if ((c < 0x20 && c != '\t') || c == 0x7f) return false;
  return true;
}

// A request-target is visible ASCII only (RFC 9112 §3.2).
bool valid_target(std::string_view t) {
  for (unsigned char c : t)
    if (c <= 0x20 || c >= 0x7f) return false;
  return !t.empty();
}

std::string rule_name(const ResolvedRule& r) { return "rule " + std::to_string(r.rule->number); }

// Replaces in place; true when something changed.
bool substitute(std::string& text, const std::vector<Replacement>& pairs) {
  if (pairs.empty()) return false;
  std::string replaced = StreamSubstituter::replace_all(text, pairs);
  if (replaced == text) {
    cleanse_string(replaced);
    return false;
  }
  cleanse_string(text);
  text = std::move(replaced);
  return true;
}

void wipe(SplitHead& h) {
  cleanse_string(h.start_line);
  for (auto& f : h.fields) cleanse_string(f.value);
}

}  // namespace

std::vector<Replacement> substitution_pairs(const std::vector<ResolvedRule>& rules) {
  std::vector<Replacement> out;
  for (const auto& r : rules)
    if (r.rule->substitute && r.substitute)
      out.push_back(Replacement{r.rule->substitute->placeholder, std::string(r.substitute->view())});
  return out;
}

std::vector<Replacement> scrub_pairs(const std::vector<ResolvedRule>& rules) {
  std::vector<Replacement> out;
  for (const auto& r : rules)
    if (r.rule->scrub_responses && r.rule->substitute && r.substitute && !r.substitute->empty())
      out.push_back(Replacement{std::string(r.substitute->view()), r.rule->substitute->placeholder});
  return out;
}

Expected<InjectionResult> apply_request_injection(std::string& head, const std::vector<ResolvedRule>& rules) {
  InjectionResult result;
  SplitHead h = SplitHead::parse(head);

  // 1. Substitution, on the client's head.
  auto pairs = substitution_pairs(rules);
  auto fail_with = [&](std::string message) {
    for (auto& p : pairs) cleanse_string(p.to);
    wipe(h);
    return fail(std::move(message));
  };
  for (const auto& r : rules) {
    if (!r.substitute) continue;
    if (!valid_field_value(r.substitute->view()))
      return fail_with(rule_name(r) + ": the substitute value contains bytes a header cannot carry");
  }
  if (!pairs.empty()) {
    const size_t sp1 = h.start_line.find(' ');
    const size_t sp2 = h.start_line.rfind(' ');
    if (sp1 != std::string::npos && sp2 > sp1) {
      std::string target = h.start_line.substr(sp1 + 1, sp2 - sp1 - 1);
      if (substitute(target, pairs)) {
        if (!valid_target(target)) {
          cleanse_string(target);
          return fail_with("a substitute value contains bytes a request-target cannot carry (space or control)");
        }
        h.start_line = h.start_line.substr(0, sp1 + 1) + target + h.start_line.substr(sp2);
        cleanse_string(target);
        result.substituted = true;
      }
    }
    for (auto& f : h.fields)
      if (!is_framing_or_routing(f.name) && substitute(f.value, pairs)) result.substituted = true;
  }

  // 2.-4. Field edits.
  for (const auto& r : rules)
    for (const auto& name : r.rule->remove_headers) h.remove(name);
  for (const auto& r : rules) {
    if (!r.rule->header || !r.header) continue;
    if (!valid_field_value(r.header->view()))
      return fail_with(rule_name(r) + ": the value of header " + r.rule->header->name +
                       " contains bytes a header cannot carry");
    h.set(r.rule->header->name, r.header->view());
    result.injected.push_back(r.rule->header->name);
  }
  for (const auto& r : rules) {
    for (size_t i = 0; i < r.rule->add_headers.size() && i < r.add_headers.size(); ++i) {
      const auto& name = r.rule->add_headers[i].name;
      if (!valid_field_value(r.add_headers[i].view()))
        return fail_with(rule_name(r) + ": the value of add_headers." + name + " contains bytes a header cannot carry");
      h.set(name, r.add_headers[i].view());
      result.injected.push_back(name);
    }
  }
  for (auto& p : pairs) cleanse_string(p.to);
  cleanse_string(head);
  head = h.build();
  wipe(h);
  return result;
}

bool scrub_response_head(std::string& head, const std::vector<Replacement>& real_to_placeholder) {
  if (real_to_placeholder.empty()) return false;
  SplitHead h = SplitHead::parse(head);
  bool changed = false;
  // The reason phrase too: an echoing origin may put anything there.
  const size_t sp1 = h.start_line.find(' ');
  const size_t sp2 = sp1 == std::string::npos ? sp1 : h.start_line.find(' ', sp1 + 1);
  if (sp2 != std::string::npos) {
    std::string reason = h.start_line.substr(sp2 + 1);
    if (substitute(reason, real_to_placeholder)) {
      h.start_line = h.start_line.substr(0, sp2 + 1) + reason;
      changed = true;
    }
    cleanse_string(reason);
  }
  for (auto& f : h.fields)
    if (!is_framing_or_routing(f.name) && substitute(f.value, real_to_placeholder)) changed = true;
  if (changed) {
    cleanse_string(head);
    head = h.build();
  }
  wipe(h);
  return changed;
}

}  // namespace ferry
