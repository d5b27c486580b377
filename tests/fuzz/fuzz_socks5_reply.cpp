// The SOCKS5 CONNECT reply an upstream SOCKS5 proxy sends (client side,
// upstream/socks5_codec), read from the front of a buffer that may hold the
// first tunnelled bytes after it.
//
// Invariants: a complete reply occupies at most the bytes given, and is
// found at exactly the same size in every longer prefix while every shorter
// prefix is incomplete (never malformed); a malformed verdict holds for every
// prefix that has 5 bytes. Every reply code maps to an error naming the
// proxy. Cross-check: whatever reply ferry's own SOCKS5 server would send
// (server/socks5_inbound_codec) the client reads back in full.
#include <array>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "server/socks5_inbound_codec.h"
#include "upstream/socks5_codec.h"

using namespace ferry::socks5;

namespace {

bool same(const Reply& a, const Reply& b) {
  return a.size == b.size && a.malformed == b.malformed && (a.size == 0 || a.code == b.code);
}

void check_prefixes(std::string_view d, const Reply& whole) {
  for (size_t k = 0; k <= d.size(); ++k) {
    Reply p = parse_reply(d.substr(0, k));
    if (whole.malformed) {
      FUZZ_CHECK(p.size == 0);
      FUZZ_CHECK(p.malformed == (k >= 5));
    } else if (whole.size != 0 && k >= whole.size) {
      FUZZ_CHECK(same(p, whole));
    } else {
      FUZZ_CHECK(p.size == 0 && !p.malformed);
    }
  }
}

// Builds an endpoint from the input: a v4 or v6 address and a port.
boost::asio::ip::tcp::endpoint endpoint_from(std::string_view d) {
  std::array<unsigned char, 16> b{};
  for (size_t i = 0; i < b.size() && i + 3 < d.size(); ++i) b[i] = static_cast<unsigned char>(d[i + 3]);
  uint16_t port = d.size() >= 3 ? uint16_t(uint8_t(d[1]) << 8 | uint8_t(d[2])) : 0;
  if (!d.empty() && (d[0] & 1)) return {boost::asio::ip::address_v4({b[0], b[1], b[2], b[3]}), port};
  return {boost::asio::ip::address_v6(b), port};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  std::string_view d(reinterpret_cast<const char*>(bytes), size);
  // A reply is at most 4 + 256 + 2 bytes, and the prefix scan is quadratic.
  d = d.substr(0, 600);

  Reply whole = parse_reply(d);
  FUZZ_CHECK(whole.size <= d.size());
  if (whole.malformed) FUZZ_CHECK(whole.size == 0);
  if (whole.size) {
    FUZZ_CHECK(whole.size >= 4 + 1 + 2 && whole.size <= 4 + 256 + 2);
    FUZZ_CHECK(whole.code == uint8_t(d[1]));
  }
  check_prefixes(d, whole);

  const uint8_t code = d.empty() ? 0 : uint8_t(d[0]);
  auto err = reply_error(code, "p.example:1080");
  FUZZ_CHECK(err.details.find("p.example:1080") != std::string::npos);

  const auto ep = endpoint_from(d);
  for (const auto* bound : {&ep, static_cast<const boost::asio::ip::tcp::endpoint*>(nullptr)}) {
    std::string r = reply(code, bound);
    Reply back = parse_reply(r + std::string(d));
    FUZZ_CHECK(!back.malformed && back.size == r.size() && back.code == code);
  }
  return 0;
}
