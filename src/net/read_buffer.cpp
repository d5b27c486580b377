#include "net/read_buffer.h"

#include <openssl/crypto.h>

namespace ferry {

void ReadBuffer::wipe(size_t n) {
  if (n) OPENSSL_cleanse(buf_.get() + begin_, n);
}

void ReadBuffer::wipe_consume(size_t n) {
  wipe(n);
  consume(n);
}

asio::mutable_buffer ReadBuffer::prepare(size_t max_size) {
  if (!buf_) {
    alloc_ = capacity_;
    buf_.reset(new char[alloc_]);
    begin_ = end_ = 0;
  }
  if (end_ == alloc_ && begin_ > 0) {
    std::memmove(buf_.get(), buf_.get() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  if (end_ == alloc_) {
    if (alloc_ >= max_size) return {};
    size_t grown = std::min(alloc_ * 2, max_size);
    std::unique_ptr<char[]> bigger(new char[grown]);
    std::memcpy(bigger.get(), buf_.get() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
    buf_ = std::move(bigger);
    alloc_ = grown;
  }
  return {buf_.get() + end_, alloc_ - end_};
}

awaitable<size_t> ReadBuffer::read_from(ByteStream& stream, error_code& ec, size_t max_size) {
  auto space = prepare(max_size);
  if (space.size() == 0) {
    ec = asio::error::no_buffer_space;
    co_return 0;
  }
  size_t n = co_await stream.read_some(space, ec);
  commit(n);
  co_return n;
}

}  // namespace ferry
