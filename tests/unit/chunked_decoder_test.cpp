// The chunked transfer coding decoder (RFC 9112 §7.1).
#include "http/chunked_decoder.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace ferry::http {
namespace {

using namespace std::string_literals;
using Status = ChunkedDecoder::Status;

struct Decoded {
  Status status = Status::need_more;  // done, error or need_more (input ran out)
  std::string payload;
  std::string error;
  size_t consumed = 0;  // total input bytes consumed
};

// Feeds `pieces` in order, each until the decoder stops consuming it.
Decoded decode_pieces(const std::vector<std::string>& pieces) {
  ChunkedDecoder dec;
  Decoded out;
  for (const auto& piece : pieces) {
    std::string_view in = piece;
    while (true) {
      auto s = dec.step(in);
      EXPECT_LE(s.consumed, in.size());
      out.consumed += s.consumed;
      in.remove_prefix(s.consumed);
      if (s.status == Status::data) {
        EXPECT_FALSE(s.data.empty());
        out.payload.append(s.data);
        continue;
      }
      if (s.status == Status::error) {
        out.status = Status::error;
        out.error = std::string(s.error);
        EXPECT_FALSE(out.error.empty());
        return out;
      }
      if (s.status == Status::done) {
        EXPECT_TRUE(dec.done());
        out.status = Status::done;
        return out;
      }
      // need_more: everything handed in must have been taken.
      EXPECT_TRUE(in.empty());
      break;
    }
  }
  out.status = Status::need_more;
  return out;
}

Decoded decode(const std::string& body) { return decode_pieces({body}); }

// Every split of `body` into two pieces (a sample of them for big bodies,
// which would make this quadratic), and byte by byte.
void expect_split_invariant(const std::string& body, const Decoded& whole) {
  const size_t stride = body.size() > 16 * 1024 ? 211 : 1;
  std::vector<size_t> cuts;
  for (size_t c = 0; c <= body.size(); c += stride) cuts.push_back(c);
  cuts.push_back(body.size());
  for (size_t cut : cuts) {
    auto d = decode_pieces({body.substr(0, cut), body.substr(cut)});
    ASSERT_EQ(d.status, whole.status) << "cut at " << cut;
    EXPECT_EQ(d.payload, whole.payload) << "cut at " << cut;
    if (whole.status == Status::done) {
      EXPECT_EQ(d.consumed, whole.consumed) << "cut at " << cut;
    }
  }
  std::vector<std::string> bytes;
  for (char c : body) bytes.emplace_back(1, c);
  auto d = decode_pieces(bytes);
  ASSERT_EQ(d.status, whole.status) << "byte by byte";
  EXPECT_EQ(d.payload, whole.payload) << "byte by byte";
}

struct ValidCase {
  const char* name;
  std::string body;
  std::string payload;
};

class ChunkedValid : public testing::TestWithParam<ValidCase> {};

TEST_P(ChunkedValid, DecodesAtEverySplit) {
  const auto& c = GetParam();
  auto whole = decode(c.body);
  ASSERT_EQ(whole.status, Status::done) << whole.error;
  EXPECT_EQ(whole.payload, c.payload);
  EXPECT_EQ(whole.consumed, c.body.size());
  expect_split_invariant(c.body, whole);
}

INSTANTIATE_TEST_SUITE_P(
    All, ChunkedValid,
    testing::Values(
        ValidCase{"Empty", "0\r\n\r\n", ""}, ValidCase{"OneChunk", "5\r\nhello\r\n0\r\n\r\n", "hello"},
        ValidCase{"TwoChunks", "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", "hello world"},
        ValidCase{"HexUpperAndLower", "A\r\n0123456789\r\nb\r\nabcdefghijk\r\n0\r\n\r\n", "0123456789abcdefghijk"},
        ValidCase{"LeadingZeros", "0005\r\nhello\r\n000\r\n\r\n", "hello"},
        ValidCase{"BinaryPayloadWithCrlfAndNul", "6\r\n\r\n\0\n\r\x80\r\n0\r\n\r\n"s, "\r\n\0\n\r\x80"s},
        ValidCase{"Extension", "5;name=value\r\nhello\r\n0\r\n\r\n", "hello"},
        ValidCase{"ExtensionQuoted", "5;name=\"v;al\"\r\nhello\r\n0;x\r\n\r\n", "hello"},
        ValidCase{"ExtensionAfterBws", "5 ;a=b\r\nhello\r\n0\t;last\r\n\r\n", "hello"},
        ValidCase{"SeveralExtensions", "5;a;b=c;d=\"e\"\r\nhello\r\n0\r\n\r\n", "hello"},
        ValidCase{"OneTrailer", "5\r\nhello\r\n0\r\nX-Checksum: abc\r\n\r\n", "hello"},
        ValidCase{"TwoTrailers", "5\r\nhello\r\n0\r\nA: 1\r\nB:\r\n\r\n", "hello"},
        ValidCase{"LargeChunk", "400\r\n" + std::string(1024, 'z') + "\r\n0\r\n\r\n", std::string(1024, 'z')}),
    [](const testing::TestParamInfo<ValidCase>& i) { return std::string(i.param.name); });

TEST(ChunkedDecoder, StopsAtEndOfBody) {
  // Bytes after the last chunk belong to the next message.
  std::string body = "3\r\nabc\r\n0\r\n\r\n";
  std::string next = "GET http://a/ HTTP/1.1\r\n\r\n";
  auto d = decode(body + next);
  ASSERT_EQ(d.status, Status::done);
  EXPECT_EQ(d.payload, "abc");
  EXPECT_EQ(d.consumed, body.size());
}

TEST(ChunkedDecoder, TrailersAreNotPayload) {
  auto d = decode("1\r\nx\r\n0\r\nSecret: trailer\r\n\r\n");
  ASSERT_EQ(d.status, Status::done);
  EXPECT_EQ(d.payload, "x");
}

TEST(ChunkedDecoder, IncompleteBodyNeedsMore) {
  for (std::string body : {"5\r\nhel"s, "5\r\nhello\r\n"s, "5\r\nhello\r\n0\r\n"s, "0\r\nA: 1\r\n"s, ""s, "5"s}) {
    auto d = decode(body);
    EXPECT_EQ(d.status, Status::need_more) << testing::PrintToString(body);
  }
}

TEST(ChunkedDecoder, AfterDoneReportsDone) {
  ChunkedDecoder dec;
  auto s = dec.step("0\r\n\r\n");
  ASSERT_EQ(s.status, Status::done);
  EXPECT_EQ(s.consumed, 5u);
  EXPECT_TRUE(dec.done());
  s = dec.step("more");
  EXPECT_EQ(s.status, Status::done);
  EXPECT_EQ(s.consumed, 0u);
}

TEST(ChunkedDecoder, AfterErrorStaysFailed) {
  ChunkedDecoder dec;
  auto s = dec.step("zz\r\n");
  ASSERT_EQ(s.status, Status::error);
  s = dec.step("0\r\n\r\n");
  EXPECT_EQ(s.status, Status::error);
  EXPECT_FALSE(dec.done());
}

TEST(ChunkedDecoder, MaxSixteenHexDigitsAccepted) {
  // 2^64-1 is a syntactically valid size; only the header is fed here.
  ChunkedDecoder dec;
  auto s = dec.step("ffffffffffffffff\r\nab");
  EXPECT_EQ(s.status, Status::data);
  EXPECT_EQ(s.data, "ab");
}

struct BadCase {
  const char* name;
  std::string body;
};

class ChunkedInvalid : public testing::TestWithParam<BadCase> {};

TEST_P(ChunkedInvalid, IsErrorAtEverySplit) {
  const auto& body = GetParam().body;
  auto whole = decode(body);
  ASSERT_EQ(whole.status, Status::error) << testing::PrintToString(body);
  expect_split_invariant(body, whole);
}

INSTANTIATE_TEST_SUITE_P(
    All, ChunkedInvalid,
    testing::Values(
        BadCase{"NonHexSize", "g\r\nhello\r\n0\r\n\r\n"}, BadCase{"HexPrefix", "0x5\r\nhello\r\n0\r\n\r\n"},
        BadCase{"EmptySize", "\r\nhello\r\n0\r\n\r\n"}, BadCase{"SignedSize", "+5\r\nhello\r\n0\r\n\r\n"},
        BadCase{"NegativeSize", "-5\r\nhello\r\n0\r\n\r\n"}, BadCase{"LeadingSpace", " 5\r\nhello\r\n0\r\n\r\n"},
        BadCase{"TrailingSpaceNoExtension", "5 \r\nhello\r\n0\r\n\r\n"},
        BadCase{"GarbageAfterSize", "5z\r\nhello\r\n0\r\n\r\n"},
        BadCase{"Overflow17Digits", "10000000000000000\r\nx\r\n0\r\n\r\n"},
        BadCase{"Overflow20Digits", "ffffffffffffffffffff\r\nx\r\n0\r\n\r\n"},
        BadCase{"MissingCrlfAfterData", "5\r\nhelloX\r\n0\r\n\r\n"}, BadCase{"DataTooLong", "3\r\nhello\r\n0\r\n\r\n"},
        BadCase{"OnlyLfAfterData", "5\r\nhello\n0\r\n\r\n"}, BadCase{"OnlyCrAfterData", "5\r\nhello\r0\r\n\r\n"},
        BadCase{"BareLfSizeLine", "5\nhello\r\n0\r\n\r\n"}, BadCase{"BareLfLastChunk", "5\r\nhello\r\n0\n\r\n"},
        BadCase{"BareLfEnd", "5\r\nhello\r\n0\r\n\n"}, BadCase{"BareCrSizeLine", "5\rX\r\nhello\r\n0\r\n\r\n"},
        BadCase{"DoubleCrSizeLine", "5\r\r\nhello\r\n0\r\n\r\n"},
        BadCase{"BareCrInExtension", "5;a=\rb\r\nhello\r\n0\r\n\r\n"},
        BadCase{"NulInSizeLine", "5\0\r\nhello\r\n0\r\n\r\n"s},
        BadCase{"NulInExtension", "5;a=\0\r\nhello\r\n0\r\n\r\n"s}, BadCase{"NulInTrailer", "0\r\nX: a\0b\r\n\r\n"s},
        BadCase{"ControlInExtension", "5;a=\x01\r\nhello\r\n0\r\n\r\n"},
        BadCase{"OverlongSizeLine", "5;" + std::string(5000, 'a') + "\r\nhello\r\n0\r\n\r\n"},
        BadCase{"OverlongSizeLineNoCrlf", "5;" + std::string(5000, 'a')},
        BadCase{"OverlongZeros", std::string(5000, '0') + "5\r\nhello\r\n0\r\n\r\n"},
        BadCase{"TrailerWithoutColon", "0\r\nNoColon\r\n\r\n"},
        BadCase{"TrailerObsFold", "0\r\nA: 1\r\n folded\r\n\r\n"},
        BadCase{"TrailerSpaceBeforeColon", "0\r\nA : 1\r\n\r\n"}, BadCase{"TrailerEmptyName", "0\r\n: 1\r\n\r\n"},
        BadCase{"TrailerBareCr", "0\r\nA: 1\r2\r\n\r\n"}, BadCase{"TrailerControlChar", "0\r\nA: \x02\r\n\r\n"},
        BadCase{"TrailerBareLf", "0\r\nA: 1\n\r\n"},
        BadCase{"TrailerSectionTooLarge", "0\r\n" +
                                              [] {
                                                std::string t;
                                                for (int i = 0; i < 1000; ++i)
                                                  t +=
                                                      "X-T" + std::to_string(i) + ": " + std::string(100, 'v') + "\r\n";
                                                return t;
                                              }() +
                                              "\r\n"}),
    [](const testing::TestParamInfo<BadCase>& i) { return std::string(i.param.name); });

TEST(ChunkedDecoder, ErrorMessagesNameTheDefect) {
  EXPECT_NE(decode("10000000000000000\r\n").error.find("too large"), std::string::npos);
  EXPECT_NE(decode("5\nx").error.find("LF"), std::string::npos);
  EXPECT_NE(decode("5\rx").error.find("CR"), std::string::npos);
  EXPECT_NE(decode("5\0"s).error.find("NUL"), std::string::npos);
  EXPECT_NE(decode("1\r\naXX").error.find("CRLF"), std::string::npos);
}

TEST(ChunkHeader, Values) {
  EXPECT_EQ(chunk_header(0), "0\r\n");
  EXPECT_EQ(chunk_header(1), "1\r\n");
  EXPECT_EQ(chunk_header(10), "a\r\n");
  EXPECT_EQ(chunk_header(15), "f\r\n");
  EXPECT_EQ(chunk_header(16), "10\r\n");
  EXPECT_EQ(chunk_header(255), "ff\r\n");
  EXPECT_EQ(chunk_header(4096), "1000\r\n");
  EXPECT_EQ(chunk_header(0xdeadbeef), "deadbeef\r\n");
  EXPECT_EQ(chunk_header(SIZE_MAX), "ffffffffffffffff\r\n");
  EXPECT_EQ(kLastChunk, "0\r\n\r\n");
  EXPECT_EQ(kChunkTrailer, "\r\n");
}

TEST(ChunkHeader, ReencodedBodyDecodesToSamePayload) {
  std::string payload;
  for (int i = 0; i < 300; ++i) payload.push_back(char(i));
  std::string body;
  for (size_t off = 0; off < payload.size(); off += 77) {
    auto piece = payload.substr(off, 77);
    body += chunk_header(piece.size()) + piece + std::string(kChunkTrailer);
  }
  body += kLastChunk;
  auto d = decode(body);
  ASSERT_EQ(d.status, Status::done);
  EXPECT_EQ(d.payload, payload);
}

}  // namespace
}  // namespace ferry::http
