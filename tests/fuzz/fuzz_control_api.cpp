// The runs API's request handling (POST /v1/runs bodies: JSON from any
// local process that can reach the admin socket, or from a TCP client with
// the admin token): strict parsing, JSON → TOML conversion of inline rules,
// TTLs, and the response a client gets.
//
// Invariants: never a crash, hang or leak; the answer is 201, 400 or 413;
// every body is a JSON object; a refusal is {"error": string} and
// registers nothing; a 201 holds an id and a token that GET never shows and
// DELETE revokes.
#include <boost/json.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "control/control_api.h"
#include "fuzz_check.h"

using namespace ferry;
namespace json = boost::json;

namespace {

json::object parse_object(const std::string& body) {
  json::error_code ec;
  json::value v = json::parse(body, ec);
  FUZZ_CHECK(!ec && v.is_object());
  return v.get_object();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(bytes), size);
  size_t live = 0;
  RunHooks hooks;
  hooks.make_profile = [](const RunSpec& spec, const std::string& id) -> Expected<ProfilePtr> {
    // The API let through only what it promises.
    FUZZ_CHECK(!spec.profile.empty() || spec.inject || spec.policy);
    FUZZ_CHECK(spec.ttl >= Millis(0) && spec.ttl <= std::chrono::hours(24 * 7));
    auto p = std::make_shared<Profile>();
    p->id = "run:" + id;
    return ProfilePtr(p);
  };
  hooks.activated = [&live](const ferry::Run&, const std::string& token) {
    FUZZ_CHECK(token.size() == 43);
    ++live;
  };
  hooks.revoked = [&live](const ferry::Run&) { --live; };
  RunRegistry registry(hooks);
  ControlContext context;
  context.proxy_address = "127.0.0.1:3128";

  auto r = handle_control({"POST", "/v1/runs", body, true}, registry, context);
  FUZZ_CHECK(r.status == 201 || r.status == 400 || r.status == 413);
  json::object o = parse_object(r.body);
  if (r.status != 201) {
    FUZZ_CHECK(o.size() == 1 && o.contains("error") && o.at("error").is_string());
    FUZZ_CHECK(registry.size() == 0 && live == 0);
    return 0;
  }
  FUZZ_CHECK(r.holds_secret && live == 1);
  const std::string id(o.at("id").as_string()), token(o.at("token").as_string());
  auto listed = handle_control({"GET", "/v1/runs", {}, true}, registry, context);
  FUZZ_CHECK(listed.status == 200 && listed.body.find(id) != std::string::npos);
  FUZZ_CHECK(listed.body.find(token) == std::string::npos);
  const std::string one = "/v1/runs/" + id;
  auto removed = handle_control({"DELETE", one, {}, true}, registry, context);
  FUZZ_CHECK(removed.status == 204 && live == 0 && registry.size() == 0);
  return 0;
}
