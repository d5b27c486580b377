#pragma once
// Wraps the client's stream to count bytes each way for the request log.
#include "net/byte_stream.h"

namespace ferry {

class CountingStream final : public ByteStream {
 public:
  explicit CountingStream(ByteStream& inner) : inner_(inner) {}
  awaitable<size_t> read_some(asio::mutable_buffer buf, error_code& ec) override {
    size_t n = co_await inner_.read_some(buf, ec);
    bytes_in += n;
    co_return n;
  }
  awaitable<void> write(std::array<asio::const_buffer, 3> bufs, error_code& ec) override {
    co_await inner_.write(bufs, ec);
    if (!ec)
      for (const auto& b : bufs) bytes_out += b.size();
  }
  using ByteStream::write;
  awaitable<void> shutdown_send() override { return inner_.shutdown_send(); }
  size_t read_available(asio::mutable_buffer buf, error_code& ec) override {
    size_t n = inner_.read_available(buf, ec);
    bytes_in += n;
    return n;
  }
  tcp::socket& socket() override { return inner_.socket(); }
  void cancel() override { inner_.cancel(); }
  void close() override { inner_.close(); }
  awaitable<void> wait_readable(error_code& ec) override { return inner_.wait_readable(ec); }
  bool is_plain_tcp() const override { return inner_.is_plain_tcp(); }
  bool has_buffered_input() const override { return inner_.has_buffered_input(); }

  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;

 private:
  ByteStream& inner_;
};

}  // namespace ferry
