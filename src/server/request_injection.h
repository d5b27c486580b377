#pragma once
// The inject rules of one request (SPEC §7) with their values resolved: what
// the forwarder applies to the heads it renders, and to the body it relays.
// The resolved values are Secrets (wiped when the request ends); only the
// names of the fields set reach the log.
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/expected.h"
#include "base/proxy_error.h"
#include "intercept/head_injection.h"
#include "intercept/inject_rule.h"
#include "net/asio.h"
#include "upstream/blocking_pool.h"

namespace ferry {

struct RequestInjection {
  std::vector<ResolvedRule> rules;

  // Applies the rules to a head the forwarder rendered; on error the head
  // is unchanged and the message names the rule, never a value.
  Expected<InjectionResult> apply(std::string& head) const { return apply_request_injection(head, rules); }
  // placeholder -> value for the request body; empty when no rule substitutes.
  std::vector<Replacement> body_substitutions() const { return substitution_pairs(rules); }
  // value -> placeholder for the response, from the rules with scrub_responses.
  std::vector<Replacement> response_scrubs() const { return scrub_pairs(rules); }
  // The fields the rules set, for the logs: each name, and joined
  // ("Authorization, X-Api-Version").
  std::vector<std::string_view> field_name_list() const;
  std::string field_names() const;
  // The resolved values (views into `rules`), for redacting them.
  std::vector<std::string_view> secrets() const;
  // After the origin answered 401: the next request re-reads files and
  // re-runs commands (a token that expired early is fetched again once).
  void origin_refused() const;
};

// Resolves `rules` (non-empty); off the event loop when a value reads a file
// or runs a command. Errors are 500 proxy_configuration_error naming the
// rule and the reference at fault.
awaitable<Expected<std::shared_ptr<const RequestInjection>, ProxyError>> resolve_injection(BlockingPool& blocking,
                                                                                           const InjectRules& rules);

}  // namespace ferry
