#pragma once
// Strict RFC 9112 parser for request and response heads.
//
// Strictness is a security property for a proxy: every ambiguity that two
// HTTP implementations might resolve differently (obs-fold, bare CR or LF,
// NUL, whitespace before the colon) is a request-smuggling vector, so all of
// them are rejected instead of repaired.
#include <cstddef>
#include <string_view>

#include "http/message_head.h"

namespace ferry::http {

inline constexpr size_t kMaxHeadSize = 64 * 1024;

enum class ParseState { incomplete, complete, error };

struct ParseResult {
  ParseState state = ParseState::incomplete;
  std::string_view error;  // static text naming the defect, when state == error
};

// Finds the end of a head in `data`, scanning from `scan_from` (pass the
// value returned in `next_scan` last time, to keep repeated calls linear).
// Rejects NUL and bare LF as soon as they are seen, so a hostile peer cannot
// make ferry wait for the size limit.
struct HeadScan {
  ParseState state = ParseState::incomplete;
  size_t head_size = 0;  // when complete
  size_t next_scan = 0;
  std::string_view error;
};
HeadScan scan_for_head_end(std::string_view data, size_t scan_from);

// Parse a complete head (as delimited by scan_for_head_end).
ParseResult parse_request_head(std::string_view head, RequestHead& out);
ParseResult parse_response_head(std::string_view head, ResponseHead& out);

// Header-field lines (also used for chunked trailers): `lines` holds zero or
// more "name: value\r\n" lines and nothing else.
ParseResult parse_field_lines(std::string_view lines, std::vector<HeaderField>& out);

bool is_tchar(char c);
bool is_token(std::string_view s);

}  // namespace ferry::http
