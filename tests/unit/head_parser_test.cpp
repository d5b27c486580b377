// Strict RFC 9112 head parsing: scan_for_head_end, parse_request_head,
// parse_response_head.
#include "http/head_parser.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <string_view>

namespace ferry::http {
namespace {

using namespace std::string_literals;

// Scans `input` in one shot and, when a head is found, parses it as a
// request. The outcome owns a copy of the input, which the head's views
// point into.
struct RequestOutcome {
  ParseState state = ParseState::incomplete;
  std::string error;
  std::unique_ptr<std::string> raw;
  RequestHead head;
};

RequestOutcome scan_and_parse_request(const std::string& input) {
  RequestOutcome out;
  out.raw = std::make_unique<std::string>(input);
  const std::string& data = *out.raw;
  auto scan = scan_for_head_end(data, 0);
  if (scan.state != ParseState::complete) {
    out.state = scan.state;
    out.error = std::string(scan.error);
    return out;
  }
  auto r = parse_request_head(std::string_view(data).substr(0, scan.head_size), out.head);
  out.state = r.state;
  out.error = std::string(r.error);
  return out;
}

// `data` must outlive `head`, whose views point into it.
ParseResult parse_response(const std::string& data, ResponseHead& head) {
  auto scan = scan_for_head_end(data, 0);
  if (scan.state != ParseState::complete) return {scan.state, scan.error};
  return parse_response_head(std::string_view(data).substr(0, scan.head_size), head);
}

// ---------------------------------------------------------------- scanner

TEST(ScanForHeadEnd, FindsEndOfCompleteHead) {
  std::string data = "GET http://a/ HTTP/1.1\r\nHost: a\r\n\r\nBODY";
  auto scan = scan_for_head_end(data, 0);
  ASSERT_EQ(scan.state, ParseState::complete);
  EXPECT_EQ(scan.head_size, data.size() - 4);
  EXPECT_TRUE(scan.error.empty());
}

TEST(ScanForHeadEnd, IncompleteHeadAsksForMore) {
  for (std::string data : {"GET / HTTP/1.1\r\n"s, "GET / HTTP/1.1\r\nHost: a\r\n\r"s, ""s, "\r\n"s}) {
    auto scan = scan_for_head_end(data, 0);
    EXPECT_EQ(scan.state, ParseState::incomplete) << data;
    EXPECT_LE(scan.next_scan, data.size());
  }
}

TEST(ScanForHeadEnd, BareLfRejectedEarly) {
  // No terminating empty line yet: the scanner must not wait for more.
  for (std::string data :
       {"GET / HTTP/1.1\nHost: a"s, "\n"s, "GET / HTTP/1.1\r\nHost: a\n"s, "GET / HTTP/1.1\r\nX: a\r\n\n"s}) {
    auto scan = scan_for_head_end(data, 0);
    EXPECT_EQ(scan.state, ParseState::error) << testing::PrintToString(data);
    EXPECT_NE(std::string(scan.error).find("LF"), std::string::npos) << scan.error;
  }
}

TEST(ScanForHeadEnd, NulRejectedEarly) {
  std::string data = "GET / HTTP/1.1\r\nX: a"s + '\0' + "b";
  auto scan = scan_for_head_end(data, 0);
  EXPECT_EQ(scan.state, ParseState::error);
  EXPECT_NE(std::string(scan.error).find("NUL"), std::string::npos) << scan.error;
}

TEST(ScanForHeadEnd, HeadOverLimitRejected) {
  std::string data = "GET http://a/ HTTP/1.1\r\nX: " + std::string(kMaxHeadSize, 'a');
  auto scan = scan_for_head_end(data, 0);
  EXPECT_EQ(scan.state, ParseState::error);
  EXPECT_NE(std::string(scan.error).find("64 KiB"), std::string::npos) << scan.error;
}

TEST(ScanForHeadEnd, CompleteHeadLargerThanLimitRejected) {
  std::string data = "GET http://a/ HTTP/1.1\r\nX: " + std::string(kMaxHeadSize, 'a') + "\r\n\r\n";
  EXPECT_EQ(scan_for_head_end(data, 0).state, ParseState::error);
}

TEST(ScanForHeadEnd, HeadOfExactlyLimitAccepted) {
  std::string prefix = "GET http://a/ HTTP/1.1\r\nX: ";
  std::string data = prefix + std::string(kMaxHeadSize - prefix.size() - 4, 'a') + "\r\n\r\n";
  ASSERT_EQ(data.size(), kMaxHeadSize);
  auto scan = scan_for_head_end(data, 0);
  ASSERT_EQ(scan.state, ParseState::complete);
  EXPECT_EQ(scan.head_size, kMaxHeadSize);
  RequestHead head;
  EXPECT_EQ(parse_request_head(data, head).state, ParseState::complete);
}

TEST(ScanForHeadEnd, HeadUnderLimitWithLargeBufferAccepted) {
  // A small head followed by a large body in the same buffer is fine.
  std::string data = "POST http://a/ HTTP/1.1\r\nContent-Length: 70000\r\n\r\n" + std::string(70000, 'b');
  auto scan = scan_for_head_end(data, 0);
  ASSERT_EQ(scan.state, ParseState::complete);
  EXPECT_EQ(scan.head_size, data.size() - 70000);
}

// Feeding a buffer that grows one byte at a time, resuming at next_scan, must
// give exactly the one-shot result.
void expect_incremental_matches_one_shot(const std::string& data) {
  auto one_shot = scan_for_head_end(data, 0);
  HeadScan inc;
  size_t from = 0;
  size_t len = 0;
  for (len = 1; len <= data.size(); ++len) {
    inc = scan_for_head_end(std::string_view(data).substr(0, len), from);
    if (inc.state != ParseState::incomplete) break;
    ASSERT_LE(inc.next_scan, len);
    ASSERT_GE(inc.next_scan, from) << "next_scan must not move backwards";
    from = inc.next_scan;
  }
  ASSERT_EQ(inc.state, one_shot.state) << testing::PrintToString(data);
  if (one_shot.state == ParseState::complete) {
    EXPECT_EQ(inc.head_size, one_shot.head_size);
  }
  if (one_shot.state == ParseState::error) {
    EXPECT_EQ(inc.error, one_shot.error);
  }
}

TEST(ScanForHeadEnd, ByteByByteEqualsOneShot) {
  const std::string cases[] = {
      "GET http://a/ HTTP/1.1\r\nHost: a\r\n\r\n",
      "GET http://a/ HTTP/1.1\r\nHost: a\r\n\r\nbody after",
      "\r\nGET http://a/ HTTP/1.1\r\n\r\n",
      "GET http://a/ HTTP/1.1\r\nX: a\nY: b\r\n\r\n",
      "GET http://a/ HTTP/1.1\r\nX: a"s + '\0' + "\r\n\r\n",
      "GET http://a/ HTTP/1.1\r\nX: a\rb\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
      "\r\n\r\n",
  };
  for (const auto& c : cases) expect_incremental_matches_one_shot(c);
}

TEST(ScanForHeadEnd, ByteByByteOverLimit) {
  std::string data = "GET http://a/ HTTP/1.1\r\nX: " + std::string(kMaxHeadSize + 10, 'a');
  expect_incremental_matches_one_shot(data);
}

TEST(ScanForHeadEnd, ResumingInChunksEqualsOneShot) {
  std::string data = "GET http://example.com/x HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n";
  for (size_t step = 1; step < data.size(); ++step) {
    size_t from = 0;
    HeadScan scan;
    for (size_t len = step;; len += step) {
      if (len > data.size()) len = data.size();
      scan = scan_for_head_end(std::string_view(data).substr(0, len), from);
      if (scan.state != ParseState::incomplete || len == data.size()) break;
      from = scan.next_scan;
    }
    ASSERT_EQ(scan.state, ParseState::complete) << "step " << step;
    EXPECT_EQ(scan.head_size, data.size()) << "step " << step;
  }
}

// ---------------------------------------------------------------- requests

TEST(ParseRequestHead, AbsoluteForm) {
  std::string data = "GET http://example.com/path?q=1 HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n";
  auto r = scan_and_parse_request(data);
  ASSERT_EQ(r.state, ParseState::complete) << r.error;
  EXPECT_EQ(r.head.method, "GET");
  EXPECT_EQ(r.head.target, "http://example.com/path?q=1");
  EXPECT_EQ(r.head.version_minor, 1);
  EXPECT_EQ(r.head.size, data.size());
  ASSERT_EQ(r.head.fields.size(), 2u);
  EXPECT_EQ(r.head.fields[0].name, "Host");
  EXPECT_EQ(r.head.fields[0].value, "example.com");
  EXPECT_EQ(r.head.fields[1].name, "Accept");
  EXPECT_EQ(r.head.fields[1].value, "*/*");
}

TEST(ParseRequestHead, ConnectAuthorityForm) {
  auto r = scan_and_parse_request("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n");
  ASSERT_EQ(r.state, ParseState::complete) << r.error;
  EXPECT_EQ(r.head.method, "CONNECT");
  EXPECT_EQ(r.head.target, "example.com:443");
}

TEST(ParseRequestHead, Http10) {
  auto r = scan_and_parse_request("GET http://a/ HTTP/1.0\r\n\r\n");
  ASSERT_EQ(r.state, ParseState::complete) << r.error;
  EXPECT_EQ(r.head.version_minor, 0);
  EXPECT_TRUE(r.head.fields.empty());
}

TEST(ParseRequestHead, OneLeadingCrlfTolerated) {
  std::string data = "\r\nGET http://a/ HTTP/1.1\r\nHost: a\r\n\r\n";
  auto r = scan_and_parse_request(data);
  ASSERT_EQ(r.state, ParseState::complete) << r.error;
  EXPECT_EQ(r.head.method, "GET");
  EXPECT_EQ(r.head.size, data.size());
  ASSERT_EQ(r.head.fields.size(), 1u);
}

TEST(ParseRequestHead, TwoLeadingCrlfsRejected) {
  auto r = scan_and_parse_request("\r\n\r\nGET http://a/ HTTP/1.1\r\n\r\n");
  EXPECT_EQ(r.state, ParseState::error);
}

TEST(ParseRequestHead, OwsTrimmedAroundValues) {
  auto r = scan_and_parse_request("GET http://a/ HTTP/1.1\r\nA:   x y  \r\nB:\tz\t\r\nC:w\r\n\r\n");
  ASSERT_EQ(r.state, ParseState::complete) << r.error;
  ASSERT_EQ(r.head.fields.size(), 3u);
  EXPECT_EQ(r.head.fields[0].value, "x y");
  EXPECT_EQ(r.head.fields[1].value, "z");
  EXPECT_EQ(r.head.fields[2].value, "w");
}

TEST(ParseRequestHead, EmptyValues) {
  auto r = scan_and_parse_request("GET http://a/ HTTP/1.1\r\nA:\r\nB:   \r\n\r\n");
  ASSERT_EQ(r.state, ParseState::complete) << r.error;
  ASSERT_EQ(r.head.fields.size(), 2u);
  EXPECT_EQ(r.head.fields[0].value, "");
  EXPECT_EQ(r.head.fields[1].value, "");
}

TEST(ParseRequestHead, ObsTextInValueAccepted) {
  auto r = scan_and_parse_request("GET http://a/ HTTP/1.1\r\nX-Name: caf\xc3\xa9 \xff\x80\r\n\r\n");
  ASSERT_EQ(r.state, ParseState::complete) << r.error;
  ASSERT_EQ(r.head.fields.size(), 1u);
  EXPECT_EQ(r.head.fields[0].value, "caf\xc3\xa9 \xff\x80");
}

TEST(ParseRequestHead, NameCasePreservedAndAllTcharsAllowed) {
  auto r = scan_and_parse_request("GET http://a/ HTTP/1.1\r\nX-!#$%&'*+-.^_`|~09azAZ: v\r\n\r\n");
  ASSERT_EQ(r.state, ParseState::complete) << r.error;
  EXPECT_EQ(r.head.fields[0].name, "X-!#$%&'*+-.^_`|~09azAZ");
}

TEST(ParseRequestHead, DuplicateFieldsKeptInOrder) {
  auto r = scan_and_parse_request("GET http://a/ HTTP/1.1\r\nVia: 1.1 a\r\nX: 1\r\nVia: 1.1 b\r\n\r\n");
  ASSERT_EQ(r.state, ParseState::complete) << r.error;
  ASSERT_EQ(r.head.fields.size(), 3u);
  EXPECT_EQ(r.head.fields[0].value, "1.1 a");
  EXPECT_EQ(r.head.fields[2].value, "1.1 b");
}

TEST(ParseRequestHead, ExtensionMethodsAreTokens) {
  for (std::string m : {"PURGE", "M-SEARCH", "PROPFIND", "get"}) {
    auto r = scan_and_parse_request(m + " http://a/ HTTP/1.1\r\n\r\n");
    EXPECT_EQ(r.state, ParseState::complete) << m << ": " << r.error;
    EXPECT_EQ(r.head.method, m);
  }
}

struct RejectCase {
  const char* name;
  std::string data;
};

class RequestRejection : public testing::TestWithParam<RejectCase> {};

TEST_P(RequestRejection, IsError) {
  auto r = scan_and_parse_request(GetParam().data);
  EXPECT_EQ(r.state, ParseState::error) << testing::PrintToString(GetParam().data);
  EXPECT_FALSE(r.error.empty());
}

const std::string kLine = "GET http://a/ HTTP/1.1\r\n";

INSTANTIATE_TEST_SUITE_P(
    Headers, RequestRejection,
    testing::Values(
        RejectCase{"ObsFoldSpace", kLine + "X: a\r\n b\r\n\r\n"},
        RejectCase{"ObsFoldTab", kLine + "X: a\r\n\tb\r\n\r\n"},
        RejectCase{"ObsFoldFirstLine", kLine + " X: a\r\n\r\n"}, RejectCase{"BareCrInValue", kLine + "X: a\rb\r\n\r\n"},
        RejectCase{"BareCrEndOfValue", kLine + "X: a\r\r\n\r\n"}, RejectCase{"BareCrInName", kLine + "X\r: a\r\n\r\n"},
        RejectCase{"BareCrLine", kLine + "\r\r\n\r\n"}, RejectCase{"BareLfInValue", kLine + "X: a\nb\r\n\r\n"},
        RejectCase{"BareLfLineEnd", kLine + "X: a\n\r\n"},
        RejectCase{"NulInValue", kLine + "X: a" + '\0' + "b\r\n\r\n"},
        RejectCase{"NulInName", kLine + "X" + '\0' + ": a\r\n\r\n"},
        RejectCase{"SpaceBeforeColon", kLine + "X : a\r\n\r\n"}, RejectCase{"TabBeforeColon", kLine + "X\t: a\r\n\r\n"},
        RejectCase{"HostSpaceBeforeColon", kLine + "Host : a\r\n\r\n"}, RejectCase{"NoColon", kLine + "X a\r\n\r\n"},
        RejectCase{"NoColonToken", kLine + "X-Only\r\n\r\n"}, RejectCase{"EmptyName", kLine + ": a\r\n\r\n"},
        RejectCase{"NameWithSlash", kLine + "X/Y: a\r\n\r\n"}, RejectCase{"NameWithQuote", kLine + "X\"Y: a\r\n\r\n"},
        RejectCase{"NameWithParen", kLine + "X(Y): a\r\n\r\n"}, RejectCase{"NameWithAt", kLine + "X@Y: a\r\n\r\n"},
        RejectCase{"NameWithObsText", kLine + "X\xc3\xa9: a\r\n\r\n"},
        RejectCase{"NameWithDel", kLine + "X\x7f: a\r\n\r\n"},
        RejectCase{"ControlInValue", kLine + "X: a\x01"
                                             "b\r\n\r\n"},
        RejectCase{"EscInValue", kLine + "X: \x1b[31m\r\n\r\n"}, RejectCase{"DelInValue", kLine + "X: a\x7f\r\n\r\n"},
        RejectCase{"VerticalTabInValue", kLine + "X: a\x0b\r\n\r\n"}),
    [](const testing::TestParamInfo<RejectCase>& i) { return std::string(i.param.name); });

INSTANTIATE_TEST_SUITE_P(RequestLine, RequestRejection,
                         testing::Values(RejectCase{"EmptyMethod", " http://a/ HTTP/1.1\r\n\r\n"},
                                         RejectCase{"MethodWithSlash", "GE/T http://a/ HTTP/1.1\r\n\r\n"},
                                         RejectCase{"MethodWithColon", "GET: http://a/ HTTP/1.1\r\n\r\n"},
                                         RejectCase{"MethodWithObsText", "G\xc3\x89T http://a/ HTTP/1.1\r\n\r\n"},
                                         RejectCase{"MethodWithTab", "GET\thttp://a/ HTTP/1.1\r\n\r\n"},
                                         RejectCase{"MissingTarget", "GET HTTP/1.1\r\n\r\n"},
                                         RejectCase{"DoubleSpace", "GET  http://a/ HTTP/1.1\r\n\r\n"},
                                         RejectCase{"SpaceInTarget", "GET http://a/b c HTTP/1.1\r\n\r\n"},
                                         RejectCase{"TabInTarget", "GET http://a/b\tc HTTP/1.1\r\n\r\n"},
                                         RejectCase{"CtlInTarget",
                                                    "GET http://a/b\x01"
                                                    "c HTTP/1.1\r\n\r\n"},
                                         RejectCase{"DelInTarget", "GET http://a/b\x7f HTTP/1.1\r\n\r\n"},
                                         RejectCase{"NonAsciiInTarget", "GET http://a/caf\xc3\xa9 HTTP/1.1\r\n\r\n"},
                                         RejectCase{"BareCrInTarget", "GET http://a/\rx HTTP/1.1\r\n\r\n"},
                                         RejectCase{"BareCrAfterVersion", "GET http://a/ HTTP/1.1\r\r\n\r\n"},
                                         RejectCase{"Http2", "GET http://a/ HTTP/2.0\r\n\r\n"},
                                         RejectCase{"Http12", "GET http://a/ HTTP/1.2\r\n\r\n"},
                                         RejectCase{"Http09", "GET http://a/ HTTP/0.9\r\n\r\n"},
                                         RejectCase{"LowercaseVersion", "GET http://a/ http/1.1\r\n\r\n"},
                                         RejectCase{"MixedCaseVersion", "GET http://a/ Http/1.1\r\n\r\n"},
                                         RejectCase{"VersionTrailingSpace", "GET http://a/ HTTP/1.1 \r\n\r\n"},
                                         RejectCase{"VersionTwoDigits", "GET http://a/ HTTP/1.10\r\n\r\n"},
                                         RejectCase{"NoVersion", "GET http://a/\r\n\r\n"},
                                         RejectCase{"NoVersionTrailingSpace", "GET http://a/ \r\n\r\n"},
                                         RejectCase{"OnlyEmptyLine", "\r\n\r\n"},
                                         RejectCase{"ExtraTokenAfterVersion", "GET http://a/ HTTP/1.1 x\r\n\r\n"}),
                         [](const testing::TestParamInfo<RejectCase>& i) { return std::string(i.param.name); });

TEST(ParseRequestHead, HeadOver64KiBRejectedByScanner) {
  std::string data = kLine;
  while (data.size() <= kMaxHeadSize) data += "X-Filler: " + std::string(100, 'x') + "\r\n";
  data += "\r\n";
  auto r = scan_and_parse_request(data);
  EXPECT_EQ(r.state, ParseState::error);
  EXPECT_NE(r.error.find("64 KiB"), std::string::npos) << r.error;
}

TEST(ParseRequestHead, ResetsOutputOnReuse) {
  RequestHead head;
  std::string a = "GET http://a/ HTTP/1.1\r\nX: 1\r\nY: 2\r\n\r\n";
  ASSERT_EQ(parse_request_head(a, head).state, ParseState::complete);
  std::string b = "GET http://b/ HTTP/1.0\r\nZ: 3\r\n\r\n";
  ASSERT_EQ(parse_request_head(b, head).state, ParseState::complete);
  EXPECT_EQ(head.fields.size(), 1u);
  EXPECT_EQ(head.version_minor, 0);
  EXPECT_EQ(head.size, b.size());
}

// ---------------------------------------------------------------- field lines

TEST(ParseFieldLines, EmptyInputIsComplete) {
  std::vector<HeaderField> f;
  EXPECT_EQ(parse_field_lines("", f).state, ParseState::complete);
  EXPECT_TRUE(f.empty());
}

TEST(ParseFieldLines, ParsesSeveralLines) {
  std::vector<HeaderField> f;
  ASSERT_EQ(parse_field_lines("A: 1\r\nB:2\r\n", f).state, ParseState::complete);
  ASSERT_EQ(f.size(), 2u);
  EXPECT_EQ(f[1].name, "B");
  EXPECT_EQ(f[1].value, "2");
}

TEST(ParseFieldLines, RejectsEmptyLineAndMissingCrlf) {
  std::vector<HeaderField> f;
  EXPECT_EQ(parse_field_lines("A: 1\r\n\r\n", f).state, ParseState::error);
  EXPECT_EQ(parse_field_lines("A: 1", f).state, ParseState::error);
}

TEST(Token, TcharAndToken) {
  EXPECT_TRUE(is_token("GET"));
  EXPECT_TRUE(is_token("x-y_z.~!"));
  EXPECT_FALSE(is_token(""));
  EXPECT_FALSE(is_token("a b"));
  EXPECT_FALSE(is_token("a:b"));
  EXPECT_FALSE(is_tchar('\0'));
  EXPECT_FALSE(is_tchar('\x80'));
  EXPECT_FALSE(is_tchar('"'));
  EXPECT_TRUE(is_tchar('^'));
}

// ---------------------------------------------------------------- responses

TEST(ParseResponseHead, StatusLineWithReason) {
  const std::string data = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
  ResponseHead h;
  auto r = parse_response(data, h);
  ASSERT_EQ(r.state, ParseState::complete) << r.error;
  EXPECT_EQ(h.status, 404);
  EXPECT_EQ(h.reason, "Not Found");
  EXPECT_EQ(h.version_minor, 1);
  ASSERT_EQ(h.fields.size(), 1u);
  EXPECT_EQ(h.fields[0].name, "Content-Length");
}

TEST(ParseResponseHead, StatusLineVariants) {
  struct Case {
    std::string line;
    int status;
    std::string_view reason;
    int minor;
  };
  const Case cases[] = {
      {"HTTP/1.1 200 OK", 200, "OK", 1},
      {"HTTP/1.0 200 OK", 200, "OK", 0},
      {"HTTP/1.1 200", 200, "", 1},   // no reason phrase, no space
      {"HTTP/1.1 200 ", 200, "", 1},  // empty reason phrase
      {"HTTP/1.1 100 Continue", 100, "Continue", 1},
      {"HTTP/1.1 599 Whatever it is", 599, "Whatever it is", 1},
      {"HTTP/1.1 200 caf\xc3\xa9\tok", 200, "caf\xc3\xa9\tok", 1},  // obs-text and HTAB allowed
  };
  for (const auto& c : cases) {
    std::string data = c.line + "\r\n\r\n";
    ResponseHead h;
    auto r = parse_response(data, h);
    ASSERT_EQ(r.state, ParseState::complete) << c.line << ": " << r.error;
    EXPECT_EQ(h.status, c.status) << c.line;
    EXPECT_EQ(h.reason, c.reason) << c.line;
    EXPECT_EQ(h.version_minor, c.minor) << c.line;
    EXPECT_EQ(h.size, data.size());
  }
}

TEST(ParseResponseHead, Rejections) {
  const std::string bad[] = {
      "HTTP/1.1 099 Low",    "HTTP/1.1 000 Zero", "HTTP/1.1 20 OK",   "HTTP/1.1 2x0 OK",
      "HTTP/1.1 abc OK",     "HTTP/1.1 2000 OK",  "HTTP/1.1  200 OK", "HTTP/1.1\t200 OK",
      "HTTP/2.0 200 OK",     "HTTP/1.2 200 OK",   "http/1.1 200 OK",  "HTTP/1.1",
      "HTTP/1.1 ",           "ICY 200 OK",        "HTTP/1.1 200\tOK", "HTTP/1.1 200 O\x01K",
      "HTTP/1.1 200 O\x7fK", "HTTP/1.1 200 O\rK", "HTTP/1.1 -20 OK",  "HTTP/1.1 +20 OK",
  };
  for (const auto& line : bad) {
    ResponseHead h;
    auto r = parse_response(line + "\r\n\r\n", h);
    EXPECT_EQ(r.state, ParseState::error) << testing::PrintToString(line);
  }
}

TEST(ParseResponseHead, HeaderRejectionsApplyToo) {
  const std::string bad[] = {
      "HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n", "HTTP/1.1 200 OK\r\nX : a\r\n\r\n", "HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n",
      "HTTP/1.1 200 OK\r\nX: a\x01\r\n\r\n",   "HTTP/1.1 200 OK\r\n: a\r\n\r\n",
  };
  for (const auto& data : bad) {
    ResponseHead h;
    EXPECT_EQ(parse_response(data, h).state, ParseState::error) << testing::PrintToString(data);
  }
}

}  // namespace
}  // namespace ferry::http
