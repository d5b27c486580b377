#pragma once
// Applies inject rules to a request head, and scrubs a response head, as
// text: a complete HTTP/1.1 head ("METHOD TARGET HTTP/1.1\r\n", then
// "Name: value\r\n" lines, then "\r\n") as http::build_request_head and
// build_response_head make it. The result is a head of the same shape.
//
// Order, over all matching rules in file order:
//   1. substitution: every placeholder becomes its value in the
//      request-target and in every field value except Host, Content-Length
//      and Transfer-Encoding (routing and framing are ferry's). It runs on the
//      client's head first, so a value a rule injects is never rewritten by
//      another rule's placeholder.
//   2. remove_headers: every field of that name goes (case-insensitive).
//   3. header: every field of that name goes, then the rule's field is added;
//      two rules setting one header: the later rule's value is sent.
//   4. add_headers: the same (replace, then add): "add" means ferry adds it;
//      a second field of the same name would make a singleton field ambiguous.
#include <string>
#include <vector>

#include "base/expected.h"
#include "intercept/inject_rule.h"
#include "intercept/stream_substituter.h"

namespace ferry {

struct InjectionResult {
  std::vector<std::string> injected;  // names of the fields set by header and add_headers (never values)
  bool substituted = false;           // a placeholder was replaced in the target or a field
};

// On error (a value with bytes a head cannot carry) `head` is unchanged and
// the message names the rule, not the value.
Expected<InjectionResult> apply_request_injection(std::string& head, const std::vector<ResolvedRule>& rules);

// Replaces each pair's `from` (the real value) by `to` (the placeholder) in
// the reason phrase and every field value of a response head,
// Content-Length and Transfer-Encoding excepted. Returns whether anything was replaced.
bool scrub_response_head(std::string& head, const std::vector<Replacement>& real_to_placeholder);

// placeholder -> value for request bodies (StreamSubstituter), in rule order.
std::vector<Replacement> substitution_pairs(const std::vector<ResolvedRule>& rules);
// value -> placeholder for the rules with scrub_responses (empty values skipped).
std::vector<Replacement> scrub_pairs(const std::vector<ResolvedRule>& rules);

}  // namespace ferry
