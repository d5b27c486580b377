#pragma once
// A set of IP prefixes (a bare address is a /32 or /128), each with an
// optional port and the text to report when it matches. Looking an address
// up costs one hash lookup per distinct prefix length in the set, not one
// comparison per prefix: a policy may hold thousands of them.
// IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) are looked up as IPv4, so a
// mapped spelling never slips past an IPv4 prefix.
#include <boost/asio/ip/address.hpp>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/ip_prefix.h"

namespace ferry {

class IpPrefixSet {
 public:
  // port 0: any port. A second entry with the same prefix and port is ignored.
  void add(const IpPrefix& prefix, uint16_t port, std::string text);

  // The text of the longest matching prefix whose port is 0 or `port`, or
  // null. The pointer stays valid until the next add() or the set's end.
  const std::string* match(const boost::asio::ip::address& addr, uint16_t port) const;
  // As match(), ignoring every entry's port.
  const std::string* match_any_port(const boost::asio::ip::address& addr) const;

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

 private:
  struct Key {
    uint64_t hi = 0, lo = 0;  // IPv4: the address in lo
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    size_t operator()(const Key& k) const noexcept {
      // Mix both halves (splitmix64 finaliser): v4 keys differ only in lo.
      uint64_t x = k.hi * 0x9e3779b97f4a7c15ULL ^ k.lo;
      x ^= x >> 30;
      x *= 0xbf58476d1ce4e5b9ULL;
      x ^= x >> 27;
      x *= 0x94d049bb133111ebULL;
      return size_t(x ^ (x >> 31));
    }
  };
  struct Entry {
    uint16_t port;  // 0 = any
    std::string text;
  };
  struct Level {
    bool v4;
    int bits;
    std::unordered_map<Key, std::vector<Entry>, KeyHash> prefixes;  // masked network -> entries
  };

  static Key key_of(const boost::asio::ip::address& addr, bool& v4);
  static Key masked(Key k, bool v4, int bits);
  const std::string* find(const boost::asio::ip::address& addr, const uint16_t* port) const;

  std::vector<Level> levels_;  // longest prefix first
  size_t size_ = 0;
};

}  // namespace ferry
