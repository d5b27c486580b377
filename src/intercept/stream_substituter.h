#pragma once
// Streaming replace-all of several (from -> to) pairs over a byte stream: a
// placeholder in a request body becomes the real token, and (scrub_responses)
// the real token in a response body becomes the placeholder.
//
// The output equals a naive replace over the whole input, whatever the split:
// scan left to right; at each position, if some `from` starts there, emit its
// `to` and continue after it (non-overlapping); when several `from` match at
// one position the longest wins; a `from` listed twice keeps its first `to`;
// an empty `from` never matches.
//
// Algorithm (why not Aho-Corasick): the patterns are a few placeholders or
// tokens (tens to a few thousand bytes) and real bodies rarely contain their
// first two bytes, so the scan is a memchr (or byte-table) skip to the next
// byte that can begin a pattern, a 64 Ki-bit table lookup of the two bytes
// there, and only then a memcmp per pattern: O(n) on ordinary data,
// O(n * total pattern length) on hostile data made of pattern prefixes.
// A leftmost-longest Aho-Corasick automaton would bound the worst case but
// needs the same hold-back buffer and a re-scan after each match, for a
// construction several times larger; not worth it for a handful of patterns.
//
// Pure code (no Asio, no OpenSSL beyond the wipe): the fuzz build uses it.
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ferry {

struct Replacement {
  std::string from;
  std::string to;
};

// Replacement pairs hold real tokens: wiped when they go.
class WipedReplacements {
 public:
  explicit WipedReplacements(std::vector<Replacement> pairs) : pairs_(std::move(pairs)) {}
  ~WipedReplacements();
  WipedReplacements(const WipedReplacements&) = delete;
  WipedReplacements& operator=(const WipedReplacements&) = delete;
  const std::vector<Replacement>& get() const { return pairs_; }
  bool empty() const { return pairs_.empty(); }

 private:
  std::vector<Replacement> pairs_;
};

class StreamSubstituter {
 public:
  explicit StreamSubstituter(std::vector<Replacement> pairs);
  ~StreamSubstituter();
  StreamSubstituter(const StreamSubstituter&) = delete;
  StreamSubstituter& operator=(const StreamSubstituter&) = delete;

  // Appends to `out` every byte of the output that is decided; holds back a
  // tail that could still begin a match (fewer bytes than the longest `from`).
  void feed(std::string_view in, std::string& out);
  // End of stream: flushes the held-back tail (replacing what matches).
  void finish(std::string& out);

  // Every pair maps to a value of the same length: a Content-Length stays valid.
  bool length_preserving() const { return length_preserving_; }
  size_t held_back() const { return held_.size(); }
  bool empty() const { return pairs_.empty(); }

  // The naive whole-input replace with the same semantics (tests, heads).
  static std::string replace_all(std::string_view in, const std::vector<Replacement>& pairs);

 private:
  // Processes `data`; returns how many leading bytes were decided (output
  // appended); the rest starts with a position whose match is undecided.
  size_t process(std::string_view data, bool final, std::string& out) const;
  size_t next_candidate(std::string_view data, size_t from) const;

  std::vector<Replacement> pairs_;  // deduplicated, non-empty `from`
  bool may_start_at(std::string_view data, size_t i) const;

  std::array<bool, 256> first_byte_{};
  // Which (first, second) byte pairs can begin a pattern (a one-byte pattern
  // allows any second byte): text has many bytes equal to a pattern's first
  // byte but few such pairs, so most candidates end here, without a memcmp.
  std::vector<uint64_t> first_two_;  // 65536 bits
  int single_first_byte_ = -1;       // the only first byte, for memchr; -1 if several
  size_t longest_ = 0;
  bool length_preserving_ = true;
  std::string held_;
};

}  // namespace ferry
