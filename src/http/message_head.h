#pragma once
// Parsed HTTP/1.x message heads. Field names and values are views into the
// connection's read buffer and are valid until that buffer is consumed.
#include <cstddef>
#include <string_view>
#include <vector>

namespace ferry::http {

struct HeaderField {
  std::string_view name;   // as received (case preserved)
  std::string_view value;  // leading/trailing whitespace removed
};

struct RequestHead {
  std::string_view method;
  std::string_view target;
  int version_minor = 1;  // HTTP/1.<minor>
  std::vector<HeaderField> fields;
  size_t size = 0;  // bytes of the head, including the final CRLF
};

struct ResponseHead {
  int version_minor = 1;
  int status = 0;
  std::string_view reason;
  std::vector<HeaderField> fields;
  size_t size = 0;
};

}  // namespace ferry::http
