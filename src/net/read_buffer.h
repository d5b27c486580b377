#pragma once
// A connection's receive buffer: bytes read from the peer but not yet
// consumed by the parser or the relay. Memory is released when empty, so an
// idle keep-alive connection or tunnel holds no buffer.
#include <cstring>
#include <memory>
#include <string_view>

#include "net/asio.h"
#include "net/byte_stream.h"

namespace ferry {

class ReadBuffer {
 public:
  explicit ReadBuffer(size_t capacity = 16 * 1024) : capacity_(capacity) {}

  std::string_view data() const { return {buf_.get() + begin_, end_ - begin_}; }
  size_t size() const { return end_ - begin_; }
  bool empty() const { return begin_ == end_; }
  size_t capacity() const { return capacity_; }

  void consume(size_t n) {
    if (wipe_on_consume_) wipe(n);
    begin_ += n;
    if (begin_ == end_) begin_ = end_ = 0;
  }
  // Every consumed byte is overwritten first: a client connection whose
  // requests carry client tokens (Proxy-Authorization) in their heads.
  void set_wipe_on_consume(bool on) { wipe_on_consume_ = on; }
  // consume() of bytes that held a secret (a SOCKS5 password): overwritten first.
  void wipe_consume(size_t n);

  // Space for at least one more byte after the held data (compacting or
  // growing up to max_size); an empty buffer when max_size is reached.
  asio::mutable_buffer prepare(size_t max_size);
  void commit(size_t n) { end_ += n; }

  // Reads once from the stream into free space. Returns bytes read.
  awaitable<size_t> read_from(ByteStream& stream, error_code& ec, size_t max_size);

  // Frees the memory if nothing is held (idle connection).
  void shrink_if_empty() {
    if (empty()) {
      buf_.reset();
      alloc_ = 0;
      begin_ = end_ = 0;
    }
  }

 private:
  void wipe(size_t n);  // the first n held bytes

  std::unique_ptr<char[]> buf_;
  size_t capacity_;  // preferred allocation
  size_t alloc_ = 0;
  size_t begin_ = 0, end_ = 0;
  bool wipe_on_consume_ = false;
};

}  // namespace ferry
