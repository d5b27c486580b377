#pragma once
// Reads one message head into a connection's buffer.
#include <string_view>

#include "http/head_parser.h"
#include "net/read_buffer.h"

namespace ferry {

struct HeadRead {
  enum class Status { complete, closed_clean, closed_partial, io_error, bad_head } status;
  size_t head_size = 0;
  std::string_view error;  // bad_head: what is wrong
  error_code ec;           // io_error
  bool too_large = false;  // bad_head because the head outgrew http::kMaxHeadSize
};

awaitable<HeadRead> read_head(ByteStream& stream, ReadBuffer& buf);

}  // namespace ferry
