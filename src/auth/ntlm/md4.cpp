#include "auth/ntlm/md4.h"

#include <openssl/crypto.h>

#include <cstring>

namespace ferry::ntlm {

namespace {

inline uint32_t rotl(uint32_t x, int s) { return (x << s) | (x >> (32 - s)); }
inline uint32_t f(uint32_t x, uint32_t y, uint32_t z) { return (x & y) | (~x & z); }
inline uint32_t g(uint32_t x, uint32_t y, uint32_t z) { return (x & y) | (x & z) | (y & z); }
inline uint32_t h(uint32_t x, uint32_t y, uint32_t z) { return x ^ y ^ z; }

void compress(uint32_t state[4], const uint8_t block[64]) {
  uint32_t x[16];
  for (int i = 0; i < 16; ++i) {
    x[i] = uint32_t(block[4 * i]) | uint32_t(block[4 * i + 1]) << 8 | uint32_t(block[4 * i + 2]) << 16 |
           uint32_t(block[4 * i + 3]) << 24;
  }
  uint32_t a = state[0], b = state[1], c = state[2], d = state[3];

  // Round 1: the word order is sequential, shifts 3 7 11 19.
  static constexpr int s1[4] = {3, 7, 11, 19};
  for (int i = 0; i < 16; ++i) {
    uint32_t t = a + f(b, c, d) + x[i];
    a = d;
    d = c;
    c = b;
    b = rotl(t, s1[i % 4]);
  }
  // Round 2: columns of the 4x4 word matrix, constant sqrt(2).
  static constexpr int s2[4] = {3, 5, 9, 13};
  for (int i = 0; i < 16; ++i) {
    int k = (i % 4) * 4 + i / 4;
    uint32_t t = a + g(b, c, d) + x[k] + 0x5a827999u;
    a = d;
    d = c;
    c = b;
    b = rotl(t, s2[i % 4]);
  }
  // Round 3: bit-reversed word order, constant sqrt(3).
  static constexpr int order3[16] = {0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15};
  static constexpr int s3[4] = {3, 9, 11, 15};
  for (int i = 0; i < 16; ++i) {
    uint32_t t = a + h(b, c, d) + x[order3[i]] + 0x6ed9eba1u;
    a = d;
    d = c;
    c = b;
    b = rotl(t, s3[i % 4]);
  }

  state[0] += a;
  state[1] += b;
  state[2] += c;
  state[3] += d;
  OPENSSL_cleanse(x, sizeof x);
}

}  // namespace

Md4Digest md4(std::string_view data) {
  uint32_t state[4] = {0x67452301u, 0xefcdab89u, 0x98badcfeu, 0x10325476u};
  const auto* p = reinterpret_cast<const uint8_t*>(data.data());
  size_t n = data.size();
  while (n >= 64) {
    compress(state, p);
    p += 64;
    n -= 64;
  }

  // Padding: 0x80, zeros to 56 mod 64, then the bit length (little-endian).
  uint8_t block[128] = {};
  std::memcpy(block, p, n);
  block[n] = 0x80;
  size_t total = n + 1 + 8 <= 64 ? 64 : 128;
  uint64_t bits = uint64_t(data.size()) * 8;
  for (int i = 0; i < 8; ++i) block[total - 8 + i] = uint8_t(bits >> (8 * i));
  compress(state, block);
  if (total == 128) compress(state, block + 64);

  Md4Digest out;
  for (int i = 0; i < 4; ++i) {
    for (int j = 0; j < 4; ++j) out[4 * i + j] = uint8_t(state[i] >> (8 * j));
  }
  OPENSSL_cleanse(block, sizeof block);
  OPENSSL_cleanse(state, sizeof state);
  return out;
}

}  // namespace ferry::ntlm
