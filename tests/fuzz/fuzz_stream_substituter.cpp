// The streaming substituter: splitting the input anywhere must give exactly
// the naive whole-input replace.
//
// Input layout: byte 0 = flags (bits 0-1: pair count - 1, bit 7: map every
// byte onto "abcd" so that matches and overlapping prefixes are common);
// then per pair a length byte (from: 1 + low 3 bits, to: high 4 bits % 9)
// and the from and to bytes; then two bytes seeding the piece sizes; the rest
// is the stream.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.h"
#include "intercept/stream_substituter.h"

using ferry::Replacement;
using ferry::StreamSubstituter;

namespace {

class Reader {
 public:
  Reader(const uint8_t* data, size_t size, bool small) : data_(data), size_(size), small_(small) {}
  bool take(size_t n, std::string& out) {
    if (size_ - pos_ < n) return false;
    out.clear();
    for (size_t i = 0; i < n; ++i) out += map(data_[pos_ + i]);
    pos_ += n;
    return true;
  }
  bool byte(uint8_t& b) {
    if (pos_ >= size_) return false;
    b = data_[pos_++];
    return true;
  }
  std::string rest() {
    std::string out;
    for (; pos_ < size_; ++pos_) out += map(data_[pos_]);
    return out;
  }

 private:
  char map(uint8_t b) const { return small_ ? char('a' + (b & 3)) : char(b); }
  const uint8_t* data_;
  size_t size_, pos_ = 0;
  bool small_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  if (size < 1) return 0;
  Reader in(bytes + 1, size - 1, (bytes[0] & 0x80) != 0);
  std::vector<Replacement> pairs;
  const int count = 1 + (bytes[0] & 3);
  for (int i = 0; i < count; ++i) {
    uint8_t len = 0;
    Replacement r;
    if (!in.byte(len) || !in.take(1 + (len & 7), r.from) || !in.take((len >> 4) % 9, r.to)) return 0;
    pairs.push_back(std::move(r));
  }
  uint8_t s0 = 0, s1 = 0;
  if (!in.byte(s0) || !in.byte(s1)) return 0;
  uint32_t rng = (uint32_t(s0) << 8 | s1) * 2654435761u + 1;
  const std::string body = in.rest();

  size_t longest = 0;
  bool same_lengths = true;
  for (size_t i = 0; i < pairs.size(); ++i) {
    const auto& p = pairs[i];
    longest = std::max(longest, p.from.size());
    // A repeated `from` keeps its first `to`: later copies never apply.
    bool repeated = false;
    for (size_t j = 0; j < i; ++j) repeated = repeated || pairs[j].from == p.from;
    if (!repeated) same_lengths = same_lengths && p.from.size() == p.to.size();
  }
  const std::string want = StreamSubstituter::replace_all(body, pairs);

  StreamSubstituter sub(pairs);
  FUZZ_CHECK(sub.length_preserving() == same_lengths);
  std::string out;
  size_t pos = 0;
  while (pos < body.size()) {
    rng = rng * 1103515245u + 12345u;
    // Mostly tiny pieces (boundaries inside a pattern are the point), sometimes big ones.
    size_t n = (rng >> 16) & 7;
    if (((rng >> 24) & 3) == 0) n = (rng >> 8) & 0xff;
    n = std::min(n, body.size() - pos);  // 0 is an empty feed, which must be harmless
    const size_t out_before = out.size();
    sub.feed(std::string_view(body).substr(pos, n), out);
    pos += n;
    FUZZ_CHECK(sub.held_back() < longest);
    // What is out is final: it is a prefix of the expected output.
    FUZZ_CHECK(out.size() <= want.size());
    FUZZ_CHECK(std::string_view(want).substr(out_before, out.size() - out_before) ==
               std::string_view(out).substr(out_before));
  }
  sub.finish(out);
  FUZZ_CHECK(sub.held_back() == 0);
  FUZZ_CHECK(out == want);
  if (same_lengths) FUZZ_CHECK(out.size() == body.size());
  return 0;
}
