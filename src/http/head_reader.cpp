#include "http/head_reader.h"

namespace ferry {

awaitable<HeadRead> read_head(ByteStream& stream, ReadBuffer& buf) {
  size_t scan = 0;
  for (;;) {
    auto s = http::scan_for_head_end(buf.data(), scan);
    if (s.state == http::ParseState::complete) co_return HeadRead{HeadRead::Status::complete, s.head_size, {}, {}};
    if (s.state == http::ParseState::error) {
      // The scan reaches the size limit only when no earlier byte was bad.
      const bool too_large = s.next_scan >= http::kMaxHeadSize;
      co_return HeadRead{HeadRead::Status::bad_head, 0, s.error, {}, too_large};
    }
    scan = s.next_scan;
    // The read itself rather than ReadBuffer::read_from: one coroutine
    // frame less per head (two per forwarded request).
    auto space = buf.prepare(http::kMaxHeadSize + 1);
    error_code ec;
    if (space.size() == 0) {
      ec = asio::error::no_buffer_space;
    } else {
      const size_t n = co_await stream.read_some(space, ec);
      buf.commit(n);
    }
    if (is_end_of_stream(ec))
      co_return HeadRead{buf.empty() ? HeadRead::Status::closed_clean : HeadRead::Status::closed_partial, 0, {}, ec};
    if (ec) co_return HeadRead{HeadRead::Status::io_error, 0, {}, ec};
  }
}

}  // namespace ferry
