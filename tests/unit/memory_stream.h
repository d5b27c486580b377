#pragma once
// An in-memory ByteStream pair for unit tests: what one end writes the
// other reads; shutdown_send is a half-close (the reader sees eof once the
// bytes are read). socket() is a never-opened socket, so cancel() and
// close() do nothing.
#include <cstring>
#include <memory>
#include <string>
#include <utility>

#include "net/byte_stream.h"

namespace ferry::testing {

struct MemoryPipe {
  explicit MemoryPipe(const asio::any_io_executor& ex) : ready(ex, asio::steady_timer::time_point::max()) {}
  std::string data;
  bool closed = false;         // the writer half-closed
  uint64_t total_written = 0;  // bytes ever written
  asio::steady_timer ready;    // cancelled to wake the reader
};

class MemoryStream final : public ByteStream {
 public:
  MemoryStream(const asio::any_io_executor& ex, std::shared_ptr<MemoryPipe> in, std::shared_ptr<MemoryPipe> out)
      : socket_(ex), in_(std::move(in)), out_(std::move(out)) {}

  awaitable<size_t> read_some(asio::mutable_buffer buf, error_code& ec) override {
    ec = {};
    while (in_->data.empty() && !in_->closed) co_await in_->ready.async_wait(nothrow_awaitable);
    co_return take(buf, ec);
  }
  awaitable<void> write(std::array<asio::const_buffer, 3> bufs, error_code& ec) override {
    ec = {};
    if (out_->closed) {
      ec = asio::error::broken_pipe;
      co_return;
    }
    for (const auto& b : bufs) {
      out_->data.append(static_cast<const char*>(b.data()), b.size());
      out_->total_written += b.size();
    }
    out_->ready.cancel();
  }
  using ByteStream::write;
  awaitable<void> shutdown_send() override {
    out_->closed = true;
    out_->ready.cancel();
    co_return;
  }
  size_t read_available(asio::mutable_buffer buf, error_code& ec) override {
    ec = {};
    if (in_->data.empty() && !in_->closed) {
      ec = asio::error::would_block;
      return 0;
    }
    return take(buf, ec);
  }
  tcp::socket& socket() override { return socket_; }
  bool is_plain_tcp() const override { return false; }

  MemoryPipe& in() { return *in_; }
  MemoryPipe& out() { return *out_; }

 private:
  size_t take(asio::mutable_buffer buf, error_code& ec) {
    if (in_->data.empty()) {
      ec = asio::error::eof;
      return 0;
    }
    const size_t n = std::min(buf.size(), in_->data.size());
    std::memcpy(buf.data(), in_->data.data(), n);
    in_->data.erase(0, n);
    return n;
  }

  tcp::socket socket_;
  std::shared_ptr<MemoryPipe> in_, out_;
};

// Two connected ends.
inline std::pair<std::unique_ptr<MemoryStream>, std::unique_ptr<MemoryStream>> memory_stream_pair(
    const asio::any_io_executor& ex) {
  auto a_to_b = std::make_shared<MemoryPipe>(ex), b_to_a = std::make_shared<MemoryPipe>(ex);
  return {std::make_unique<MemoryStream>(ex, b_to_a, a_to_b), std::make_unique<MemoryStream>(ex, a_to_b, b_to_a)};
}

}  // namespace ferry::testing
