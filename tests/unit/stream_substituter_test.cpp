// StreamSubstituter: the streamed output equals the naive whole-input replace
// for every split of the input.
#include "intercept/stream_substituter.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace ferry {
namespace {

using Pairs = std::vector<Replacement>;

std::string stream(const Pairs& pairs, const std::vector<std::string>& pieces) {
  StreamSubstituter s(pairs);
  std::string out;
  for (const auto& p : pieces) {
    s.feed(p, out);
    EXPECT_LT(s.held_back(), [&] {
      size_t m = 1;
      for (const auto& q : pairs) m = std::max(m, q.from.size());
      return m;
    }());
  }
  s.finish(out);
  EXPECT_EQ(s.held_back(), 0u);
  return out;
}

std::string one_piece(const Pairs& pairs, const std::string& in) { return stream(pairs, {in}); }

TEST(ReplaceAll, NaiveSemantics) {
  EXPECT_EQ(StreamSubstituter::replace_all("a PH b PH", {{"PH", "token"}}), "a token b token");
  // Leftmost, non-overlapping: "aaa" in "aaaa" is replaced once, at 0.
  EXPECT_EQ(StreamSubstituter::replace_all("aaaa", {{"aaa", "X"}}), "Xa");
  EXPECT_EQ(StreamSubstituter::replace_all("aaaaaa", {{"aaa", "X"}}), "XX");
  // Longest wins at one position, whatever the order given.
  EXPECT_EQ(StreamSubstituter::replace_all("abcd", {{"ab", "1"}, {"abc", "2"}}), "2d");
  EXPECT_EQ(StreamSubstituter::replace_all("abcd", {{"abc", "2"}, {"ab", "1"}}), "2d");
  // Leftmost beats longest: "bcd" starts later than "ab".
  EXPECT_EQ(StreamSubstituter::replace_all("abcd", {{"ab", "1"}, {"bcd", "2"}}), "1cd");
  // A duplicate `from` keeps its first `to`; an empty `from` never matches.
  EXPECT_EQ(StreamSubstituter::replace_all("xx", {{"x", "1"}, {"x", "2"}, {"", "E"}}), "11");
}

TEST(StreamSubstituter, EmptyInputAndNoPairs) {
  EXPECT_EQ(one_piece({{"PH", "t"}}, ""), "");
  EXPECT_EQ(stream({{"PH", "t"}}, {"", "", ""}), "");
  EXPECT_EQ(one_piece({}, "anything"), "anything");
  StreamSubstituter none(Pairs{{"", "x"}});
  EXPECT_TRUE(none.empty());
}

TEST(StreamSubstituter, LengthPreserving) {
  EXPECT_TRUE(StreamSubstituter(Pairs{{"abc", "xyz"}, {"12", "34"}}).length_preserving());
  EXPECT_FALSE(StreamSubstituter(Pairs{{"abc", "xyz"}, {"12", "345"}}).length_preserving());
}

TEST(StreamSubstituter, HoldsBackOnlyAPossibleMatchStart) {
  StreamSubstituter s(Pairs{{"PLACEHOLDER", "secret"}});
  std::string out;
  s.feed("body text PLACE", out);
  EXPECT_EQ(out, "body text ");
  EXPECT_EQ(s.held_back(), 5u);
  s.feed("HOLD", out);  // still a prefix
  EXPECT_EQ(out, "body text ");
  EXPECT_EQ(s.held_back(), 9u);
  s.feed("X", out);  // not a match after all: all of it is decided
  EXPECT_EQ(out, "body text PLACEHOLDX");
  EXPECT_EQ(s.held_back(), 0u);
  s.feed("tail P", out);
  EXPECT_EQ(s.held_back(), 1u);
  s.finish(out);  // flushes the held "P" unchanged
  EXPECT_EQ(out, "body text PLACEHOLDXtail P");
  EXPECT_EQ(s.held_back(), 0u);
}

TEST(StreamSubstituter, NothingHeldWithoutAPossibleStart) {
  StreamSubstituter s(Pairs{{"PH", "t"}});
  std::string out;
  s.feed("plain bytes", out);
  EXPECT_EQ(out, "plain bytes");
  EXPECT_EQ(s.held_back(), 0u);
}

TEST(StreamSubstituter, FinishReplacesAHeldCompleteShortMatch) {
  // "ab" matched but "abc" might still: held; at the end "ab" wins.
  StreamSubstituter s(Pairs{{"ab", "1"}, {"abc", "2"}});
  std::string out;
  s.feed("xab", out);
  EXPECT_EQ(out, "x");
  EXPECT_EQ(s.held_back(), 2u);
  s.finish(out);
  EXPECT_EQ(out, "x1");
}

// Every way to cut the input in two and three pieces, and one byte at a time.
void check_all_splits(const Pairs& pairs, const std::string& in) {
  const std::string want = StreamSubstituter::replace_all(in, pairs);
  std::vector<std::string> bytes;
  for (char c : in) bytes.emplace_back(1, c);
  ASSERT_EQ(stream(pairs, bytes), want) << "byte at a time: " << in;
  for (size_t i = 0; i <= in.size(); ++i)
    for (size_t j = i; j <= in.size(); ++j)
      ASSERT_EQ(stream(pairs, {in.substr(0, i), in.substr(i, j - i), in.substr(j)}), want)
          << "split " << i << "," << j << ": " << in;
}

TEST(StreamSubstituter, ExhaustiveSplits) {
  check_all_splits({{"sk-placeholder", "sk-real-token-value"}},
                   "Authorization: sk-placeholder\n{\"k\":\"sk-placeholder\"}");
  check_all_splits({{"aaa", "X"}}, "aaaa");
  check_all_splits({{"aaa", "X"}}, "aaaaaaaaaa");
  check_all_splits({{"aaa", "aaaa"}}, "aaaaaaa");  // output contains the pattern: never rescanned
  check_all_splits({{"abab", "Z"}}, "abababab ababa");
  check_all_splits({{"ab", "1"}, {"abc", "2"}, {"bcd", "3"}}, "abcdabcabdbcd");
  check_all_splits({{"x", ""}}, "xxaxx");
  check_all_splits({{"PH", "t"}}, "P");
}

TEST(StreamSubstituter, RandomInputsMatchNaiveReplace) {
  std::mt19937 rng(20261203);
  auto random_string = [&](size_t max_len, std::string_view alphabet) {
    std::string s(rng() % (max_len + 1), ' ');
    for (auto& c : s) c = alphabet[rng() % alphabet.size()];
    return s;
  };
  for (int round = 0; round < 3000; ++round) {
    Pairs pairs;
    const int n = 1 + int(rng() % 3);
    for (int i = 0; i < n; ++i) pairs.push_back({random_string(4, "ab"), random_string(5, "abxy")});
    const std::string in = random_string(40, "abc");
    const std::string want = StreamSubstituter::replace_all(in, pairs);
    std::vector<std::string> pieces;
    for (size_t pos = 0; pos < in.size();) {
      const size_t len = std::min(in.size() - pos, size_t(rng() % 6));
      pieces.push_back(in.substr(pos, len));
      pos += len;
    }
    ASSERT_EQ(stream(pairs, pieces), want) << "round " << round << ": " << in;
  }
}

TEST(StreamSubstituter, LargeStreamWithoutMatchesPassesThrough) {
  StreamSubstituter s(Pairs{{"sk-placeholder", "sk-real"}});
  std::string chunk(64 * 1024, 'x');
  chunk[100] = 's';  // a candidate start that does not match
  std::string out;
  for (int i = 0; i < 16; ++i) s.feed(chunk, out);
  s.finish(out);
  EXPECT_EQ(out.size(), chunk.size() * 16);
}

}  // namespace
}  // namespace ferry
