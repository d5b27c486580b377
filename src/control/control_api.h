#pragma once
// The runs API of SPEC §7 on the admin listener (§10), independent of the
// transport: the admin server parses HTTP and calls handle_control.
//
//   POST   /v1/runs       {"profile", "inject", "policy", "ttl"} → 201 {id, token, proxy_url, env, …}
//   GET    /v1/runs       → 200 {"runs": [{id, profile, created, expires, ttl}]}
//   GET    /v1/runs/ID    → 200 {id, profile, created, expires, ttl}
//   DELETE /v1/runs/ID    → 204
//
// Errors are JSON {"error": "..."}: 400 malformed JSON, a wrong type, an
// unknown field, a bad TTL or a profile the server rejects (the message
// names the field, never a value from the body); 401 not authorized; 404
// unknown path or run; 405 wrong method (with Allow); 413 a body over
// kMaxControlBody; 429 too many runs; 500 the CSPRNG failed.
// Nothing but the 201 of a POST holds a token.
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/expected.h"
#include "control/client_environment.h"
#include "control/run_registry.h"

namespace ferry {

inline constexpr size_t kMaxControlBody = 1024 * 1024;

struct ControlRequest {
  std::string_view method;
  std::string_view target;  // origin-form ("/v1/runs/ID"); a query is ignored
  std::string_view body;
  // The transport's verdict: on a unix socket its permissions are the auth
  // (always true); on TCP, a valid `Authorization: Bearer <admin token>`.
  bool authorized = false;
};

struct ControlResponse {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;  // Allow, WWW-Authenticate
  std::string content_type = "application/json";
  std::string body;
  // The body holds a run's token: wiped when this response dies, and never
  // logged.
  bool holds_secret = false;

  ControlResponse() = default;
  ControlResponse(ControlResponse&&) = default;
  ControlResponse& operator=(ControlResponse&&) = default;
  ~ControlResponse();
};

// What the `env` and `proxy_url` of a new run need.
struct ControlContext {
  std::string proxy_address;  // where clients reach the HTTP listener: "127.0.0.1:3128" (client_address())
  std::string socks_address;  // the SOCKS5 listener likewise; empty: none
  std::string no_proxy = kLocalNoProxy;
  std::string ca_dir;  // the interception CA's directory; empty: interception off (no CA variables)
};

// Whether `target` is the runs API's (`/v1/runs` or below), for a router.
bool is_control_target(std::string_view target);

ControlResponse handle_control(const ControlRequest& request, RunRegistry& registry, const ControlContext& context);

// The body of POST /v1/runs, checked (strict: unknown fields, wrong types
// and a TTL outside (0, max_ttl] are errors naming the field). For tests
// and the fuzzer.
Expected<RunSpec> parse_run_request(std::string_view body, Millis max_ttl);

// A JSON error body: {"error": "<message>"}.
std::string json_error(std::string_view message);

}  // namespace ferry
