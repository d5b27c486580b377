// Responses ferry makes itself: status line, Proxy-Status (RFC 9209), Via,
// Content-Length, Connection.
#include "http/error_response.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "http/head_parser.h"
#include "http/message_framing.h"

namespace ferry::http {
namespace {

using testing::HasSubstr;
using testing::Not;
using testing::StartsWith;

struct Split {
  std::string head;
  std::string body;
};

Split split(const std::string& resp) {
  auto end = resp.find("\r\n\r\n");
  EXPECT_NE(end, std::string::npos);
  return {resp.substr(0, end + 4), resp.substr(end + 4)};
}

TEST(ProxyStatusValue, FormatWithDetails) {
  ProxyError e{ProxyErrc::dns_error, "cannot resolve host example.invalid"};
  EXPECT_EQ(proxy_status_value(e), "ferry; error=dns_error; details=\"cannot resolve host example.invalid\"");
}

TEST(ProxyStatusValue, WithoutDetails) {
  EXPECT_EQ(proxy_status_value({ProxyErrc::proxy_loop_detected, ""}), "ferry; error=proxy_loop_detected");
}

TEST(ProxyStatusValue, DetailsEscapedAsSfString) {
  struct Case {
    std::string details;
    std::string escaped;
  };
  const Case cases[] = {
      {"say \"hi\"", "\"say \\\"hi\\\"\""},
      {"C:\\path", "\"C:\\\\path\""},
      {"a\\\"b", "\"a\\\\\\\"b\""},
      {"line1\r\nline2", "\"line1??line2\""},
      {std::string("nul\0x", 5), "\"nul?x\""},
      {"tab\there", "\"tab?here\""},
      {"del\x7f", "\"del?\""},
      {"caf\xc3\xa9", "\"caf??\""},
      {"printable ~!@#$%^&*()", "\"printable ~!@#$%^&*()\""},
  };
  for (const auto& c : cases) {
    auto v = proxy_status_value({ProxyErrc::http_protocol_error, c.details});
    EXPECT_EQ(v, "ferry; error=http_protocol_error; details=" + c.escaped) << testing::PrintToString(c.details);
  }
}

TEST(ProxyStatusValue, EscapedValueIsAValidSfString) {
  // Every byte value: the resulting sf-string holds only printable ASCII and
  // every '"' or '\' inside it is escaped.
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(char(i));
  auto v = proxy_status_value({ProxyErrc::http_protocol_error, all});
  auto start = v.find("details=\"");
  ASSERT_NE(start, std::string::npos);
  std::string s = v.substr(start + 9);
  ASSERT_FALSE(s.empty());
  ASSERT_EQ(s.back(), '"');
  s.pop_back();
  for (size_t i = 0; i < s.size(); ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    ASSERT_TRUE(c >= 0x20 && c <= 0x7e) << "byte " << int(c) << " at " << i;
    if (c == '\\') {
      ASSERT_LT(i + 1, s.size());
      ASSERT_TRUE(s[i + 1] == '"' || s[i + 1] == '\\');
      ++i;
    } else {
      ASSERT_NE(c, '"') << "unescaped quote at " << i;
    }
  }
}

TEST(MakeErrorResponse, StatusLineHeadersAndBody) {
  ProxyError e{ProxyErrc::connection_refused, "connection refused by 192.0.2.1 port 80"};
  auto resp = make_error_response(e, "1.1 ferry-abc", false, "GET");
  auto [head, body] = split(resp);
  EXPECT_THAT(head, StartsWith("HTTP/1.1 502 Bad Gateway\r\n"));

  ResponseHead h;
  ASSERT_EQ(parse_response_head(head, h).state, ParseState::complete);
  EXPECT_EQ(h.status, 502);
  std::multimap<std::string, std::string> fields;
  for (const auto& f : h.fields) fields.emplace(std::string(f.name), std::string(f.value));
  ASSERT_EQ(fields.count("Proxy-Status"), 1u);
  EXPECT_EQ(fields.find("Proxy-Status")->second,
            "ferry; error=connection_refused; details=\"connection refused by 192.0.2.1 port 80\"");
  ASSERT_EQ(fields.count("Via"), 1u);
  EXPECT_EQ(fields.find("Via")->second, "1.1 ferry-abc");
  ASSERT_EQ(fields.count("Content-Length"), 1u);
  EXPECT_EQ(fields.find("Content-Length")->second, std::to_string(body.size()));
  EXPECT_EQ(fields.count("Connection"), 0u);
  EXPECT_EQ(fields.count("Transfer-Encoding"), 0u);

  auto info = analyze_response(h, "GET");
  ASSERT_TRUE(info);
  EXPECT_EQ(info->body, BodyKind::content_length);
  EXPECT_EQ(info->content_length, body.size());
  EXPECT_TRUE(info->keep_alive);

  EXPECT_THAT(body, HasSubstr("connection refused by 192.0.2.1 port 80"));
  EXPECT_FALSE(body.empty());
  EXPECT_EQ(body.back(), '\n');
}

TEST(MakeErrorResponse, ConnectionCloseWhenAsked) {
  auto resp = make_error_response({ProxyErrc::http_request_error, "bad chunk size"}, "1.1 ferry-abc", true, "GET");
  auto [head, body] = split(resp);
  EXPECT_THAT(head, StartsWith("HTTP/1.1 400 Bad Request\r\n"));
  EXPECT_THAT(head, HasSubstr("\r\nConnection: close\r\n"));
  ResponseHead h;
  ASSERT_EQ(parse_response_head(head, h).state, ParseState::complete);
  auto info = analyze_response(h, "GET");
  ASSERT_TRUE(info);
  EXPECT_FALSE(info->keep_alive);
  EXPECT_EQ(info->content_length, body.size());
}

TEST(MakeErrorResponse, ExplicitStatusOverridesDefault) {
  ProxyError e{ProxyErrc::http_request_denied, "authentication failed", 407};
  auto resp = make_error_response(e, "1.1 ferry-abc", false, "GET");
  EXPECT_THAT(resp, StartsWith("HTTP/1.1 407 Proxy Authentication Required\r\n"));
  EXPECT_THAT(resp, HasSubstr("Proxy-Status: ferry; error=http_request_denied; details=\"authentication failed\"\r\n"));
}

TEST(MakeErrorResponse, StatusesForSpecErrors) {
  struct Case {
    ProxyErrc e;
    const char* start;
  };
  const Case cases[] = {
      {ProxyErrc::dns_error, "HTTP/1.1 502 "},
      {ProxyErrc::connection_timeout, "HTTP/1.1 504 "},
      {ProxyErrc::destination_ip_prohibited, "HTTP/1.1 403 "},
      {ProxyErrc::http_request_denied, "HTTP/1.1 403 "},
      {ProxyErrc::http_request_error, "HTTP/1.1 400 "},
      {ProxyErrc::http_protocol_error, "HTTP/1.1 502 "},
      {ProxyErrc::proxy_loop_detected, "HTTP/1.1 502 "},
      {ProxyErrc::connection_limit_reached, "HTTP/1.1 503 "},
      {ProxyErrc::proxy_configuration_error, "HTTP/1.1 500 "},
  };
  for (const auto& c : cases) {
    auto resp = make_error_response({c.e, "x"}, "1.1 ferry-a", false, "GET");
    EXPECT_THAT(resp, StartsWith(c.start)) << proxy_errc_name(c.e);
    EXPECT_THAT(resp, HasSubstr("Proxy-Status: ferry; error=" + std::string(proxy_errc_name(c.e))));
  }
}

TEST(MakeErrorResponse, BodyWithoutDetailsNamesTheError) {
  auto resp = make_error_response({ProxyErrc::proxy_loop_detected, ""}, "1.1 ferry-a", false, "GET");
  auto [head, body] = split(resp);
  EXPECT_THAT(body, HasSubstr("proxy_loop_detected"));
  EXPECT_THAT(head, HasSubstr("Content-Length: " + std::to_string(body.size()) + "\r\n"));
}

TEST(MakeErrorResponse, HostileDetailsCannotInjectHeaders) {
  auto resp = make_error_response({ProxyErrc::dns_error, "x\r\nSet-Cookie: a=b\r\n\r\n"}, "1.1 ferry-a", false, "GET");
  auto [head, body] = split(resp);
  auto scan = scan_for_head_end(resp, 0);
  ASSERT_EQ(scan.state, ParseState::complete);
  EXPECT_EQ(scan.head_size, head.size());
  ResponseHead h;
  ASSERT_EQ(parse_response_head(head, h).state, ParseState::complete);
  for (const auto& f : h.fields) EXPECT_NE(f.name, "Set-Cookie");
  EXPECT_THAT(head, HasSubstr("Content-Length: " + std::to_string(body.size()) + "\r\n"));
}

// RFC 9110 §9.3.2: the answer to a HEAD has the head a GET would get and no
// body; a body would be read as the next response (D3).
TEST(MakeErrorResponse, HeadGetsNoBody) {
  ProxyError e{ProxyErrc::dns_error, "cannot resolve x.invalid"};
  const auto get = make_error_response(e, "1.1 ferry-a", false, "GET");
  const auto head = make_error_response(e, "1.1 ferry-a", false, "HEAD");
  EXPECT_EQ(head, split(get).head);
  EXPECT_THAT(head, HasSubstr("Content-Length: " + std::to_string(split(get).body.size()) + "\r\n"));
  auto scan = scan_for_head_end(head, 0);
  ASSERT_EQ(scan.state, ParseState::complete);
  EXPECT_EQ(scan.head_size, head.size());
}

TEST(MakeOptionsResponse, AllowWithoutTraceAndEmptyBody) {
  const auto resp = make_options_response("1.1 ferry-a", false);
  ResponseHead h;
  ASSERT_EQ(parse_response_head(resp, h).state, ParseState::complete);
  EXPECT_EQ(h.size, resp.size());
  EXPECT_EQ(h.status, 200);
  std::multimap<std::string, std::string> fields;
  for (const auto& f : h.fields) fields.emplace(std::string(f.name), std::string(f.value));
  ASSERT_EQ(fields.count("Allow"), 1u);
  EXPECT_THAT(fields.find("Allow")->second, HasSubstr("OPTIONS"));
  EXPECT_THAT(fields.find("Allow")->second, Not(HasSubstr("TRACE")));
  EXPECT_EQ(fields.find("Content-Length")->second, "0");
  EXPECT_EQ(fields.find("Via")->second, "1.1 ferry-a");
  EXPECT_EQ(fields.count("Connection"), 0u);
  EXPECT_THAT(make_options_response("1.1 ferry-a", true), HasSubstr("\r\nConnection: close\r\n"));
}

}  // namespace
}  // namespace ferry::http
