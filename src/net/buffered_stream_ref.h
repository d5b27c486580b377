#pragma once
// A stream that borrows another together with the bytes already read from
// it, and hands those out first. ferry's TLS server side of an intercepted
// tunnel runs over the client connection's stream this way: a client may
// send its ClientHello right behind the CONNECT head, into the buffer the
// head was read with.
#include <algorithm>
#include <cstring>

#include "net/byte_stream.h"
#include "net/read_buffer.h"

namespace ferry {

class BufferedStreamRef final : public ByteStream {
 public:
  BufferedStreamRef(ByteStream& inner, ReadBuffer& already_read) : inner_(inner), buf_(already_read) {}

  awaitable<size_t> read_some(asio::mutable_buffer buf, error_code& ec) override {
    if (!buf_.empty()) {
      ec = {};
      co_return take_buffered(buf);
    }
    co_return co_await inner_.read_some(buf, ec);
  }
  size_t read_available(asio::mutable_buffer buf, error_code& ec) override {
    if (!buf_.empty()) {
      ec = {};
      return take_buffered(buf);
    }
    return inner_.read_available(buf, ec);
  }
  awaitable<void> wait_readable(error_code& ec) override {
    if (!buf_.empty()) {
      ec = {};
      co_return;
    }
    co_await inner_.wait_readable(ec);
  }
  bool has_buffered_input() const override { return !buf_.empty() || inner_.has_buffered_input(); }

  awaitable<void> write(std::array<asio::const_buffer, 3> bufs, error_code& ec) override {
    return inner_.write(bufs, ec);
  }
  using ByteStream::write;
  awaitable<void> shutdown_send() override { return inner_.shutdown_send(); }
  tcp::socket& socket() override { return inner_.socket(); }
  bool is_plain_tcp() const override { return false; }  // never spliced: the buffer must come first
  void cancel() override { inner_.cancel(); }
  void close() override { inner_.close(); }

 private:
  size_t take_buffered(asio::mutable_buffer buf) {
    const size_t n = std::min(buf.size(), buf_.size());
    std::memcpy(buf.data(), buf_.data().data(), n);
    buf_.consume(n);
    return n;
  }

  ByteStream& inner_;
  ReadBuffer& buf_;
};

}  // namespace ferry
