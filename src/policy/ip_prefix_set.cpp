#include "policy/ip_prefix_set.h"

#include <algorithm>

namespace ferry {

namespace ip = boost::asio::ip;

namespace {
uint64_t top_bits(int n) { return n <= 0 ? 0 : n >= 64 ? ~uint64_t(0) : ~uint64_t(0) << (64 - n); }
}  // namespace

IpPrefixSet::Key IpPrefixSet::key_of(const ip::address& raw, bool& v4) {
  ip::address addr = raw;
  if (addr.is_v6() && addr.to_v6().is_v4_mapped()) addr = ip::make_address_v4(ip::v4_mapped, addr.to_v6());
  v4 = addr.is_v4();
  if (v4) return {0, addr.to_v4().to_uint()};
  const auto b = addr.to_v6().to_bytes();
  Key k;
  for (int i = 0; i < 8; ++i) k.hi = k.hi << 8 | b[i];
  for (int i = 8; i < 16; ++i) k.lo = k.lo << 8 | b[i];
  return k;
}

IpPrefixSet::Key IpPrefixSet::masked(Key k, bool v4, int bits) {
  if (v4) return {0, k.lo & (top_bits(bits) >> 32)};
  if (bits <= 64) return {k.hi & top_bits(bits), 0};
  return {k.hi, k.lo & top_bits(bits - 64)};
}

void IpPrefixSet::add(const IpPrefix& prefix, uint16_t port, std::string text) {
  bool v4 = false;
  const Key key = key_of(prefix.network(), v4);
  auto level = std::find_if(levels_.begin(), levels_.end(),
                            [&](const Level& l) { return l.v4 == v4 && l.bits == prefix.bits(); });
  if (level == levels_.end()) {
    levels_.push_back(Level{v4, prefix.bits(), {}});
    // Longest first, so that match() reports the most specific prefix.
    std::stable_sort(levels_.begin(), levels_.end(), [](const Level& a, const Level& b) { return a.bits > b.bits; });
    level = std::find_if(levels_.begin(), levels_.end(),
                         [&](const Level& l) { return l.v4 == v4 && l.bits == prefix.bits(); });
  }
  auto& entries = level->prefixes[masked(key, v4, prefix.bits())];
  for (const auto& e : entries)
    if (e.port == port) return;
  entries.push_back(Entry{port, std::move(text)});
  ++size_;
}

const std::string* IpPrefixSet::find(const ip::address& addr, const uint16_t* port) const {
  if (levels_.empty()) return nullptr;
  bool v4 = false;
  const Key key = key_of(addr, v4);
  for (const auto& level : levels_) {
    if (level.v4 != v4) continue;
    auto it = level.prefixes.find(masked(key, v4, level.bits));
    if (it == level.prefixes.end()) continue;
    for (const auto& e : it->second)
      if (!port || e.port == 0 || e.port == *port) return &e.text;
  }
  return nullptr;
}

const std::string* IpPrefixSet::match(const ip::address& addr, uint16_t port) const { return find(addr, &port); }

const std::string* IpPrefixSet::match_any_port(const ip::address& addr) const { return find(addr, nullptr); }

}  // namespace ferry
