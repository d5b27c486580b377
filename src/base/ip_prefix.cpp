#include "base/ip_prefix.h"

#include <algorithm>
#include <array>
#include <charconv>

namespace ferry {

namespace ip = boost::asio::ip;

namespace {
template <size_t N>
std::array<unsigned char, N> masked(std::array<unsigned char, N> bytes, int bits) {
  for (size_t i = 0; i < N; ++i) {
    int keep = std::clamp(bits - int(i) * 8, 0, 8);
    bytes[i] &= static_cast<unsigned char>(keep == 0 ? 0 : (0xFF << (8 - keep)) & 0xFF);
  }
  return bytes;
}
}  // namespace

Expected<IpPrefix> IpPrefix::parse(std::string_view text) {
  auto slash = text.find('/');
  std::string addr_text(text.substr(0, slash));
  boost::system::error_code ec;
  auto addr = ip::make_address(addr_text, ec);
  if (ec) return fail("'" + std::string(text) + "' is not an IP address or CIDR prefix");
  int max_bits = addr.is_v4() ? 32 : 128;
  int bits = max_bits;
  if (slash != std::string_view::npos) {
    auto b = text.substr(slash + 1);
    auto [end, perr] = std::from_chars(b.data(), b.data() + b.size(), bits);
    if (b.empty() || perr != std::errc() || end != b.data() + b.size() || bits < 0 || bits > max_bits)
      return fail("'" + std::string(text) + "' has an invalid prefix length");
  }
  // ::ffff:a.b.c.d/104 is the IPv4 prefix a.b.c.d/8 written in IPv6.
  if (addr.is_v6() && addr.to_v6().is_v4_mapped()) {
    if (bits < 96) return fail("'" + std::string(text) + "' is an IPv4-mapped prefix shorter than /96");
    addr = ip::make_address_v4(ip::v4_mapped, addr.to_v6());
    bits -= 96;
  }
  IpPrefix p;
  p.bits_ = bits;
  if (addr.is_v4()) p.network_ = ip::address_v4(masked(addr.to_v4().to_bytes(), bits));
  else p.network_ = ip::address_v6(masked(addr.to_v6().to_bytes(), bits));
  return p;
}

bool IpPrefix::contains(const ip::address& raw) const {
  ip::address addr = raw;
  if (addr.is_v6() && addr.to_v6().is_v4_mapped()) addr = ip::make_address_v4(ip::v4_mapped, addr.to_v6());
  if (addr.is_v4() != network_.is_v4()) return false;
  if (addr.is_v4()) return masked(addr.to_v4().to_bytes(), bits_) == network_.to_v4().to_bytes();
  return masked(addr.to_v6().to_bytes(), bits_) == network_.to_v6().to_bytes();
}

std::string IpPrefix::to_string() const { return network_.to_string() + "/" + std::to_string(bits_); }

}  // namespace ferry
