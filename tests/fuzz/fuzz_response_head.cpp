// Response heads from an origin or upstream: parse, analyze, and the head
// ferry relays to the client.
//
// The first input byte picks the request method and the forwarding flags;
// the rest is the response.
//
// Invariants: a response ferry accepted and rebuilt parses again with the
// same framing; no hop-by-hop field survives; ferry's Via is present.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/host_port.h"
#include "fuzz_check.h"
#include "http/head_parser.h"
#include "http/header_rewrite.h"
#include "http/message_framing.h"

using namespace ferry;
using namespace ferry::http;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  if (size < 1) return 0;
  const uint8_t control = bytes[0];
  std::string_view data(reinterpret_cast<const char*>(bytes + 1), size - 1);
  static constexpr std::string_view kMethods[] = {"GET", "HEAD", "POST", "CONNECT"};
  const std::string_view method = kMethods[control & 3];
  const bool close = control & 4;
  const bool keep_alive_1_0 = control & 8;
  const bool want_upgrade = control & 16;

  auto scan = scan_for_head_end(data, 0);
  if (scan.state != ParseState::complete) return 0;
  ResponseHead head;
  auto parsed = parse_response_head(data.substr(0, scan.head_size), head);
  if (parsed.state != ParseState::complete) {
    FUZZ_CHECK(!parsed.error.empty());
    return 0;
  }
  FUZZ_CHECK(head.status >= 100 && head.status <= 999);
  FUZZ_CHECK(head.size == scan.head_size);

  auto info = analyze_response(head, method);
  if (!info) return 0;
  if (method == "HEAD" || head.status < 200 || head.status == 204 || head.status == 304)
    FUZZ_CHECK(info->body == BodyKind::none);
  if (info->body == BodyKind::until_close) FUZZ_CHECK(!info->keep_alive);
  if (info->body == BodyKind::content_length) FUZZ_CHECK(info->content_length > 0);

  const bool upgrade = want_upgrade && head.status == 101;
  ForwardResponse fwd{"1.1 ferry-fuzz", info->body, close, keep_alive_1_0, upgrade};
  std::string out = build_response_head(head, *info, fwd);

  if (out.size() <= kMaxHeadSize) {
    auto again_scan = scan_for_head_end(out, 0);
    FUZZ_CHECK(again_scan.state == ParseState::complete);
    FUZZ_CHECK(again_scan.head_size == out.size());
  }
  ResponseHead again;
  FUZZ_CHECK(parse_response_head(out, again).state == ParseState::complete);
  FUZZ_CHECK(again.status == head.status);
  FUZZ_CHECK(again.version_minor == 1);

  auto info2 = analyze_response(again, method);
  FUZZ_CHECK(info2.has_value());
  FUZZ_CHECK(info2->body == info->body);
  FUZZ_CHECK(info2->content_length == info->content_length);

  bool saw_via = false;
  int connection_fields = 0;
  for (const auto& f : again.fields) {
    if (iequals(f.name, "via") && f.value == "1.1 ferry-fuzz") saw_via = true;
    if (iequals(f.name, "connection")) ++connection_fields;
    for (std::string_view banned :
         {"proxy-authenticate", "proxy-authorization", "proxy-connection", "keep-alive", "te", "trailer"})
      FUZZ_CHECK(!iequals(f.name, banned));
    if (!upgrade) FUZZ_CHECK(!iequals(f.name, "upgrade"));
  }
  FUZZ_CHECK(saw_via);
  FUZZ_CHECK(connection_fields <= 1);
  return 0;
}
