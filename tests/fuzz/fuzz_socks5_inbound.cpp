// The messages a SOCKS5 client sends ferry's SOCKS5 listener
// (server/socks5_inbound_codec): greeting, RFC 1929 user/password and the
// request, each read from the front of a buffer.
//
// Invariants: a complete message occupies at most the bytes given, and is
// found with the same content in every longer prefix while every shorter
// prefix is incomplete; malformed input stays malformed however many bytes
// follow, and carries a reply code. A request's host is either a lower-case
// name of [a-z0-9._-] or an IP literal in canonical text, so it can go into
// logs and an upstream CONNECT line as is. Cross-check: what ferry's own
// SOCKS5 client (upstream/socks5_codec) sends parses back to the same values.
#include <algorithm>
#include <boost/asio/ip/address.hpp>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/host_port.h"
#include "fuzz_check.h"
#include "server/socks5_inbound_codec.h"
#include "upstream/socks5_codec.h"

using namespace ferry::socks5;

namespace {

bool name_byte(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_'; }

bool canonical_ip(const std::string& host) {
  boost::system::error_code ec;
  auto addr = boost::asio::ip::make_address(host, ec);
  return !ec && addr.to_string() == host;
}

// Checks prefix and extension behaviour of one parse_* function.
template <class Parse, class Same>
void check_framing(std::string_view d, Parse parse, Same same) {
  auto whole = parse(d);
  FUZZ_CHECK(whole.size <= d.size());
  if (whole.malformed) {
    FUZZ_CHECK(whole.size == 0);
    FUZZ_CHECK(parse(std::string(d) + std::string(300, '\x05')).malformed);
    return;
  }
  for (size_t k = 0; k < d.size(); ++k) {
    auto p = parse(d.substr(0, k));
    if (whole.size == 0 || k < whole.size) {
      FUZZ_CHECK(p.size == 0 && !p.malformed);
    } else {
      FUZZ_CHECK(p.size == whole.size && !p.malformed && same(p, whole));
    }
  }
}

void check_request(std::string_view d) {
  Request r = parse_request(d);
  if (r.malformed) {
    FUZZ_CHECK(r.error_reply != 0 && rejection_code(r) == r.error_reply);
    return;
  }
  if (r.size == 0) return;
  FUZZ_CHECK(rejection_code(r) == (r.command == kCmdConnect ? 0 : kReplyCommandNotSupported));
  FUZZ_CHECK(!r.host.empty());
  if (r.host_is_name) {
    FUZZ_CHECK(r.host.size() <= 255);
    FUZZ_CHECK(std::all_of(r.host.begin(), r.host.end(), name_byte));
  } else {
    FUZZ_CHECK(canonical_ip(r.host));
  }
  FUZZ_CHECK(r.port == uint16_t(uint8_t(d[r.size - 2]) << 8 | uint8_t(d[r.size - 1])));
}

// ferry's client side -> ferry's server side.
void check_round_trip(std::string_view d) {
  const bool offer = !d.empty() && (d[0] & 1);
  Greeting g = parse_greeting(greeting(offer));
  FUZZ_CHECK(g.size == greeting(offer).size());
  FUZZ_CHECK(select_method(g.methods, offer) == (offer ? kMethodUserPass : kMethodNone));

  auto split = d.find('\0');
  std::string_view user = d.substr(0, split);
  std::string_view password = split == std::string_view::npos ? std::string_view() : d.substr(split + 1);
  std::string msg;
  if (userpass_request(user, password, msg)) {
    UserPass u = parse_userpass(msg);
    FUZZ_CHECK(u.size == msg.size() && u.user == user && u.password == password);
  }

  if (d.size() < 3) return;
  const uint16_t port = uint16_t(uint8_t(d[0]) << 8 | uint8_t(d[1]));
  std::string_view host = d.substr(2, 253);  // callers hold hosts of at most 253 bytes
  std::string req = connect_request(host, port);
  Request r = parse_request(req);
  if (std::all_of(host.begin(), host.end(), [](char c) { return name_byte(c) || (c >= 'A' && c <= 'Z'); }))
    FUZZ_CHECK(!r.malformed);
  if (r.malformed) return;
  FUZZ_CHECK(r.size == req.size() && r.port == port && r.command == kCmdConnect);
  if (r.host_is_name) FUZZ_CHECK(r.host == ferry::to_lower(host));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  std::string_view d(reinterpret_cast<const char*>(bytes), size);
  // Messages are at most 513 bytes, and the prefix scans are quadratic.
  d = d.substr(0, 600);

  check_framing(d, parse_greeting, [](const Greeting& a, const Greeting& b) { return a.methods == b.methods; });
  check_framing(d, parse_userpass,
                [](const UserPass& a, const UserPass& b) { return a.user == b.user && a.password == b.password; });
  check_framing(d, parse_request, [](const Request& a, const Request& b) {
    return a.command == b.command && a.host == b.host && a.port == b.port && a.host_is_name == b.host_is_name;
  });
  Greeting g = parse_greeting(d);
  if (g.size) FUZZ_CHECK(!g.methods.empty() && g.size == 2 + g.methods.size());
  UserPass u = parse_userpass(d);
  if (u.size) {
    FUZZ_CHECK(u.size == 3 + u.user.size() + u.password.size());
    FUZZ_CHECK(d.substr(2, u.user.size()) == u.user);
  }
  check_request(d);
  check_round_trip(d);
  return 0;
}
