#include "http/chunked_decoder.h"

#include <vector>

#include "http/head_parser.h"

namespace ferry::http {

namespace {
constexpr size_t kMaxLine = 4096;  // a size line with extensions
constexpr size_t kMaxTrailerSection = 64 * 1024;

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

std::string chunk_header(size_t size) {
  char buf[24];
  static constexpr char digits[] = "0123456789abcdef";
  int n = 0;
  char tmp[20];
  do {
    tmp[n++] = digits[size & 0xF];
    size >>= 4;
  } while (size);
  int o = 0;
  while (n) buf[o++] = tmp[--n];
  buf[o++] = '\r';
  buf[o++] = '\n';
  return std::string(buf, o);
}

ChunkedDecoder::Step ChunkedDecoder::fail(std::string_view why, size_t consumed) {
  state_ = State::failed;
  return {Status::error, consumed, {}, why};
}

// Parses "1a;ext=v" (without CRLF). Returns an error text or empty.
std::string_view ChunkedDecoder::finish_size_line(std::string_view line, bool& last) {
  size_t i = 0;
  uint64_t size = 0;
  while (i < line.size() && hex_value(line[i]) >= 0) {
    if (size >> 60) return "chunk size too large";
    size = size * 16 + uint64_t(hex_value(line[i]));
    ++i;
  }
  if (i == 0) return "invalid chunk size";
  std::string_view ext = line.substr(i);
  size_t j = 0;
  while (j < ext.size() && (ext[j] == ' ' || ext[j] == '\t')) ++j;
  if (j < ext.size()) {
    if (ext[j] != ';') return "invalid chunk size";
    for (char c : ext) {
      auto u = static_cast<unsigned char>(c);
      if (u != '\t' && (u < 0x20 || u == 0x7f)) return "control character in chunk extension";
    }
  } else if (j != 0) {
    return "invalid chunk size";  // trailing whitespace without an extension
  }
  remaining_ = size;
  last = size == 0;
  return {};
}

ChunkedDecoder::Step ChunkedDecoder::step(std::string_view in) {
  size_t pos = 0;
  while (pos < in.size()) {
    switch (state_) {
      case State::size_line:
      case State::trailer_line: {
        // Accumulate one line; reject bare CR/LF and overlong lines.
        while (pos < in.size()) {
          char c = in[pos++];
          if (c == '\n') {
            if (line_.empty() || line_.back() != '\r') return fail("bare LF in chunked framing", pos);
            line_.pop_back();
            goto line_complete;
          }
          if (!line_.empty() && line_.back() == '\r') return fail("bare CR in chunked framing", pos);
          if (c == '\0') return fail("NUL in chunked framing", pos);
          line_.push_back(c);
          size_t cap = state_ == State::size_line ? kMaxLine : kMaxTrailerSection;
          if (line_.size() + trailer_bytes_ > cap) return fail("chunk line too long", pos);
        }
        return {Status::need_more, pos, {}, {}};
      line_complete:
        if (state_ == State::size_line) {
          bool last = false;
          auto err = finish_size_line(line_, last);
          line_.clear();
          if (!err.empty()) return fail(err, pos);
          state_ = last ? State::trailer_line : State::data;
        } else {
          if (line_.empty()) {
            state_ = State::done;
            return {Status::done, pos, {}, {}};
          }
          trailer_bytes_ += line_.size() + 2;
          std::vector<HeaderField> fields;
          line_ += "\r\n";
          auto r = parse_field_lines(line_, fields);
          line_.clear();
          if (r.state == ParseState::error) return fail("malformed trailer field", pos);
        }
        break;
      }
      case State::data: {
        size_t n = in.size() - pos;
        if (n > remaining_) n = size_t(remaining_);
        auto data = in.substr(pos, n);
        remaining_ -= n;
        pos += n;
        if (remaining_ == 0) state_ = State::data_cr;
        return {Status::data, pos, data, {}};
      }
      case State::data_cr:
        if (in[pos++] != '\r') return fail("chunk data not followed by CRLF", pos);
        state_ = State::data_lf;
        break;
      case State::data_lf:
        if (in[pos++] != '\n') return fail("chunk data not followed by CRLF", pos);
        state_ = State::size_line;
        break;
      case State::done: return {Status::done, pos, {}, {}};
      case State::failed: return {Status::error, pos, {}, "chunked framing already failed"};
    }
  }
  if (state_ == State::done) return {Status::done, pos, {}, {}};
  return {Status::need_more, pos, {}, {}};
}

}  // namespace ferry::http
