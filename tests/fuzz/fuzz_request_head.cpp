// Request heads from a client: scan, parse, analyze, target parsing and the
// head ferry forwards.
//
// Invariants:
//  - resuming the scanner at next_scan gives the one-shot result;
//  - a head ferry accepted, rebuilt by build_request_head, scans and parses
//    again, keeps its framing, carries exactly one Host and no hop-by-hop
//    fields, and ends with ferry's Via;
//  - an error response made from any parse error is itself a valid response.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/host_port.h"
#include "fuzz_check.h"
#include "http/error_response.h"
#include "http/head_parser.h"
#include "http/header_rewrite.h"
#include "http/message_framing.h"
#include "http/request_target.h"
#include "http/via.h"

using namespace ferry;
using namespace ferry::http;

namespace {

void check_error_response(std::string_view details) {
  auto resp = make_error_response({ProxyErrc::http_request_error, std::string(details)}, "1.1 ferry-fuzz", true, "GET");
  auto scan = scan_for_head_end(resp, 0);
  FUZZ_CHECK(scan.state == ParseState::complete);
  ResponseHead h;
  FUZZ_CHECK(parse_response_head(std::string_view(resp).substr(0, scan.head_size), h).state == ParseState::complete);
  auto info = analyze_response(h, "GET");
  FUZZ_CHECK(info.has_value());
  FUZZ_CHECK(info->body == BodyKind::content_length);
  FUZZ_CHECK(info->content_length == resp.size() - scan.head_size);
}

void check_scanner_resume(std::string_view data, const HeadScan& one_shot) {
  const size_t cut = data.size() / 2;
  auto first = scan_for_head_end(data.substr(0, cut), 0);
  if (first.state != ParseState::incomplete) {
    // Decided on the prefix alone: the full buffer must agree.
    FUZZ_CHECK(first.state == one_shot.state);
    if (first.state == ParseState::complete) FUZZ_CHECK(first.head_size == one_shot.head_size);
    return;
  }
  FUZZ_CHECK(first.next_scan <= cut);
  auto resumed = scan_for_head_end(data, first.next_scan);
  FUZZ_CHECK(resumed.state == one_shot.state);
  if (resumed.state == ParseState::complete) FUZZ_CHECK(resumed.head_size == one_shot.head_size);
}

void check_rebuilt(const RequestHead& head, const RequestInfo& info, const AbsoluteTarget& target) {
  static const Via via("fuzz");
  const std::string via_value = via.value(head.version_minor);
  const std::string host = target.host_header();
  ForwardRequest fwd{head.method, target.origin_form, host, via_value, info.upgrade};
  std::string out = build_request_head(head, info, fwd);

  if (out.size() <= kMaxHeadSize) {
    auto scan = scan_for_head_end(out, 0);
    FUZZ_CHECK(scan.state == ParseState::complete);
    FUZZ_CHECK(scan.head_size == out.size());
  }
  RequestHead again;
  auto parsed = parse_request_head(out, again);
  FUZZ_CHECK(parsed.state == ParseState::complete);
  FUZZ_CHECK(again.method == head.method);
  FUZZ_CHECK(again.target == target.origin_form);
  FUZZ_CHECK(again.version_minor == 1);

  auto info2 = analyze_request(again);
  FUZZ_CHECK(info2.has_value());
  FUZZ_CHECK(info2->body == info.body);
  FUZZ_CHECK(info2->content_length == info.content_length);
  FUZZ_CHECK(info2->upgrade == info.upgrade);

  int hosts = 0;
  for (const auto& f : again.fields) {
    if (iequals(f.name, "host")) {
      ++hosts;
      FUZZ_CHECK(f.value == host);
    }
    for (std::string_view banned :
         {"proxy-authorization", "proxy-authenticate", "proxy-connection", "keep-alive", "te", "trailer"})
      FUZZ_CHECK(!iequals(f.name, banned));
    if (!info.upgrade) {
      FUZZ_CHECK(!iequals(f.name, "upgrade"));
      FUZZ_CHECK(!iequals(f.name, "connection"));
    }
    // Fields the client named in Connection are gone, except what ferry
    // itself restates (framing, Host, Via, Upgrade when upgrading).
    bool restated = iequals(f.name, "host") || iequals(f.name, "via") || iequals(f.name, "content-length") ||
                    iequals(f.name, "transfer-encoding") || iequals(f.name, "connection") ||
                    (info.upgrade && iequals(f.name, "upgrade"));
    if (!restated)
      for (const auto& t : info.connection.tokens) FUZZ_CHECK(!iequals(f.name, t));
  }
  FUZZ_CHECK(hosts == 1);

  // Our Via is the last Via line, and the rebuilt head is recognised as a loop.
  std::string_view last_via;
  for (const auto& f : again.fields)
    if (iequals(f.name, "via")) last_via = f.value;
  FUZZ_CHECK(last_via == via_value);
  FUZZ_CHECK(via.seen_in(again.fields));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  std::string_view data(reinterpret_cast<const char*>(bytes), size);

  auto scan = scan_for_head_end(data, 0);
  check_scanner_resume(data, scan);
  if (scan.state == ParseState::error) {
    FUZZ_CHECK(!scan.error.empty());
    check_error_response(scan.error);
    return 0;
  }
  if (scan.state != ParseState::complete) return 0;
  FUZZ_CHECK(scan.head_size <= data.size() && scan.head_size <= kMaxHeadSize);

  RequestHead head;
  auto parsed = parse_request_head(data.substr(0, scan.head_size), head);
  if (parsed.state != ParseState::complete) {
    FUZZ_CHECK(parsed.state == ParseState::error && !parsed.error.empty());
    check_error_response(parsed.error);
    return 0;
  }
  FUZZ_CHECK(head.size == scan.head_size);
  FUZZ_CHECK(is_token(head.method));
  FUZZ_CHECK(!head.target.empty());
  FUZZ_CHECK(head.version_minor == 0 || head.version_minor == 1);
  for (const auto& f : head.fields) {
    FUZZ_CHECK(is_token(f.name));
    FUZZ_CHECK(f.value.find_first_of("\r\n") == std::string_view::npos);
    if (!f.value.empty()) {
      FUZZ_CHECK(f.value.front() != ' ' && f.value.front() != '\t');
      FUZZ_CHECK(f.value.back() != ' ' && f.value.back() != '\t');
    }
  }

  (void)Via("fuzz").seen_in(head.fields);
  (void)loggable_target(head.target);

  auto info = analyze_request(head);
  if (!info) {
    check_error_response(info.error());
    return 0;
  }
  if (info->body == BodyKind::content_length) FUZZ_CHECK(info->content_length > 0);

  if (head.method == "CONNECT") {
    auto authority = parse_authority_target(head.target);
    if (authority) {
      auto again = parse_host_port(authority->to_string());
      FUZZ_CHECK(again.has_value() && *again == *authority);
    }
    return 0;
  }
  auto target = parse_absolute_target(head.target);
  if (!target) {
    check_error_response(target.error());
    return 0;
  }
  FUZZ_CHECK(!target->origin_form.empty() && target->origin_form.front() == '/');
  auto hp = parse_host_port(target->authority.to_string());
  FUZZ_CHECK(hp.has_value() && *hp == target->authority);
  check_rebuilt(head, *info, *target);
  return 0;
}
