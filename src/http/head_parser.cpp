#include "http/head_parser.h"

#include <array>

namespace ferry::http {

namespace {

constexpr std::array<bool, 256> make_tchar_table() {
  std::array<bool, 256> t{};
  for (int c = '0'; c <= '9'; ++c) t[c] = true;
  for (int c = 'a'; c <= 'z'; ++c) t[c] = true;
  for (int c = 'A'; c <= 'Z'; ++c) t[c] = true;
  for (char c : std::string_view("!#$%&'*+-.^_`|~")) t[static_cast<unsigned char>(c)] = true;
  return t;
}
constexpr auto kTchar = make_tchar_table();

// field-value octets: HTAB, SP, VCHAR, obs-text. Everything else (CTLs, DEL)
// is rejected.
constexpr bool is_field_value_char(unsigned char c) { return c == '\t' || (c >= 0x20 && c != 0x7f); }

ParseResult error(std::string_view why) { return {ParseState::error, why}; }

// Splits off one CRLF-terminated line. The head was already scanned, so
// every LF is preceded by CR; a CR elsewhere is a bare CR.
bool next_line(std::string_view& rest, std::string_view& line) {
  auto lf = rest.find('\n');
  if (lf == std::string_view::npos || lf == 0) return false;
  line = rest.substr(0, lf - 1);
  rest.remove_prefix(lf + 1);
  return true;
}

bool parse_version(std::string_view v, int& minor) {
  if (v.size() != 8 || v.substr(0, 7) != "HTTP/1.") return false;
  if (v[7] != '0' && v[7] != '1') return false;
  minor = v[7] - '0';
  return true;
}

std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

bool is_tchar(char c) { return kTchar[static_cast<unsigned char>(c)]; }

bool is_token(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!is_tchar(c)) return false;
  return true;
}

HeadScan scan_for_head_end(std::string_view data, size_t scan_from) {
  HeadScan r;
  const size_t limit = data.size() < kMaxHeadSize ? data.size() : kMaxHeadSize;
  size_t i = scan_from;
  for (; i < limit; ++i) {
    char c = data[i];
    if (c == '\0') return {ParseState::error, 0, i, "NUL byte in header"};
    if (c != '\n') continue;
    if (i == 0 || data[i - 1] != '\r') return {ParseState::error, 0, i, "bare LF in header"};
    // CRLF CRLF ends the head. A head that is only an empty line (or starts
    // with two) fails to parse later as a malformed start line.
    if (i >= 3 && data[i - 2] == '\n' && data[i - 3] == '\r') return {ParseState::complete, i + 1, i + 1, {}};
  }
  r.next_scan = i;
  if (data.size() >= kMaxHeadSize) return {ParseState::error, 0, i, "header section larger than 64 KiB"};
  return r;
}

ParseResult parse_field_lines(std::string_view rest, std::vector<HeaderField>& out) {
  std::string_view line;
  while (!rest.empty()) {
    if (!next_line(rest, line)) return error("malformed header line");
    if (line.empty()) return error("unexpected empty line");
    if (line.front() == ' ' || line.front() == '\t') return error("obsolete line folding in header");
    size_t colon = 0;
    while (colon < line.size() && kTchar[static_cast<unsigned char>(line[colon])]) ++colon;
    if (colon == line.size()) return error("header line without colon");
    if (line[colon] != ':') {
      if (line[colon] == ' ' || line[colon] == '\t') return error("whitespace before colon in header");
      return error("invalid character in header name");
    }
    if (colon == 0) return error("empty header name");
    std::string_view value = line.substr(colon + 1);
    for (char c : value) {
      if (c == '\r') return error("bare CR in header");
      if (!is_field_value_char(static_cast<unsigned char>(c))) return error("control character in header value");
    }
    out.push_back({line.substr(0, colon), trim_ows(value)});
  }
  return {ParseState::complete, {}};
}

ParseResult parse_request_head(std::string_view head, RequestHead& out) {
  out = RequestHead{};
  out.size = head.size();
  std::string_view rest = head;
  // RFC 9112 §2.2: ignore one empty line before the request line (some
  // clients send a stray CRLF after a body).
  if (rest.size() >= 2 && rest[0] == '\r' && rest[1] == '\n') rest.remove_prefix(2);
  std::string_view line;
  if (!next_line(rest, line)) return error("malformed request line");

  auto sp1 = line.find(' ');
  if (sp1 == std::string_view::npos) return error("malformed request line");
  out.method = line.substr(0, sp1);
  if (!is_token(out.method)) return error("invalid request method");
  auto sp2 = line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos) return error("malformed request line");
  out.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  if (out.target.empty()) return error("empty request target");
  for (char c : out.target) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f) return error("invalid character in request target");
  }
  if (!parse_version(line.substr(sp2 + 1), out.version_minor)) return error("unsupported HTTP version");

  // The head ends with an empty line; strip it before parsing fields.
  rest.remove_suffix(2);
  return parse_field_lines(rest, out.fields);
}

ParseResult parse_response_head(std::string_view head, ResponseHead& out) {
  out = ResponseHead{};
  out.size = head.size();
  std::string_view rest = head;
  std::string_view line;
  if (!next_line(rest, line)) return error("malformed status line");
  if (line.size() < 12 || !parse_version(line.substr(0, 8), out.version_minor) || line[8] != ' ')
    return error("malformed status line");
  int status = 0;
  for (int i = 9; i < 12; ++i) {
    if (line[i] < '0' || line[i] > '9') return error("malformed status code");
    status = status * 10 + (line[i] - '0');
  }
  if (status < 100) return error("malformed status code");
  out.status = status;
  if (line.size() > 12) {
    if (line[12] != ' ') return error("malformed status line");
    out.reason = line.substr(13);
    for (char c : out.reason)
      if (!is_field_value_char(static_cast<unsigned char>(c))) return error("control character in reason phrase");
  }
  rest.remove_suffix(2);
  return parse_field_lines(rest, out.fields);
}

}  // namespace ferry::http
