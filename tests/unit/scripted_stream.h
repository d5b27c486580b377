#pragma once
// An in-memory ByteStream for driving protocol code through every step
// without sockets (the beast::test::stream + fail_count pattern): reads are
// served from a script whose steps can wait until the code under test has
// written so many bytes (a peer that answers only after the request), every
// write is recorded, and the Nth operation can be made to fail.
#include <cstring>
#include <deque>
#include <string>

#include "net/byte_stream.h"

namespace ferry::test {

class ScriptedStream final : public ByteStream {
 public:
  struct Step {
    std::string data;          // bytes the peer sends
    size_t after_written = 0;  // ... once this many bytes were written to it
    bool eof = false;          // the peer ends the stream here
  };

  explicit ScriptedStream(asio::any_io_executor ex) : socket_(ex), wake_(ex) {
    wake_.expires_at(asio::steady_timer::time_point::max());
  }

  // The peer's bytes, in order.
  ScriptedStream& then(std::string data, size_t after_written = 0) {
    steps_.push_back({std::move(data), after_written});
    return *this;
  }
  // The peer closes once this many bytes were written to it.
  ScriptedStream& then_eof(size_t after_written = 0) {
    steps_.push_back({{}, after_written, true});
    return *this;
  }
  // After the script: end of stream (true) or silence until cancelled.
  ScriptedStream& end_after_script(bool eof = true) {
    eof_after_script_ = eof;
    return *this;
  }
  // The Nth read or write (1-based) fails with connection_reset; 0: never.
  void fail_at(int n) { fail_at_ = n; }
  bool failure_hit() const { return failure_hit_; }

  const std::string& written() const { return written_; }
  bool shut_down() const { return shut_down_; }
  bool closed() const { return closed_; }

  awaitable<size_t> read_some(asio::mutable_buffer buf, error_code& ec) override {
    if (fail_now(ec)) co_return 0;
    co_await wait_ready(ec);
    if (ec) co_return 0;
    if (steps_.empty() || steps_.front().eof) {
      ec = asio::error::eof;
      co_return 0;
    }
    co_return take(buf);
  }

  awaitable<void> write(std::array<asio::const_buffer, 3> bufs, error_code& ec) override {
    if (fail_now(ec)) co_return;
    if (closed_ || shut_down_) {
      ec = asio::error::broken_pipe;
      co_return;
    }
    for (const auto& b : bufs) written_.append(static_cast<const char*>(b.data()), b.size());
    wake_.cancel();  // a step may be waiting for these bytes
    co_return;
  }
  using ByteStream::write;

  awaitable<void> shutdown_send() override {
    shut_down_ = true;
    co_return;
  }

  size_t read_available(asio::mutable_buffer buf, error_code& ec) override {
    const bool ended = (steps_.empty() && eof_after_script_) || (front_ready() && steps_.front().eof);
    if (ended || !front_ready()) {
      ec = ended ? error_code(asio::error::eof) : error_code(asio::error::would_block);
      return 0;
    }
    return take(buf);
  }

  awaitable<void> wait_readable(error_code& ec) override { co_await wait_ready(ec); }

  tcp::socket& socket() override { return socket_; }
  bool is_plain_tcp() const override { return true; }
  bool has_buffered_input() const override { return front_ready() && !steps_.front().eof; }

  // Like a socket's cancel: only an operation waiting now is aborted.
  void cancel() override {
    if (!waiting_) return;
    cancelled_ = true;
    wake_.cancel();
  }
  void close() override {
    closed_ = true;
    cancel();
  }

 private:
  bool fail_now(error_code& ec) {
    if (++ops_ != fail_at_) return false;
    failure_hit_ = true;
    ec = asio::error::connection_reset;
    return true;
  }
  bool front_ready() const { return !steps_.empty() && written_.size() >= steps_.front().after_written; }

  // Until the next step may be read, the script ends, or a cancel.
  awaitable<void> wait_ready(error_code& ec) {
    bool aborted = false;
    while (!aborted && !front_ready() && !(steps_.empty() && eof_after_script_)) {
      waiting_ = true;
      co_await wake_.async_wait(nothrow_awaitable);
      waiting_ = false;
      wake_.expires_at(asio::steady_timer::time_point::max());
      // Cancelled by cancel(), or from outside (an `||` whose other side won).
      auto state = co_await asio::this_coro::cancellation_state;
      aborted = cancelled_ || state.cancelled() != asio::cancellation_type::none;
    }
    cancelled_ = false;
    if (aborted) ec = asio::error::operation_aborted;
  }

  size_t take(asio::mutable_buffer buf) {
    auto& step = steps_.front();
    const size_t n = std::min(buf.size(), step.data.size());
    std::memcpy(buf.data(), step.data.data(), n);
    step.data.erase(0, n);
    if (step.data.empty()) steps_.pop_front();
    return n;
  }

  tcp::socket socket_;
  asio::steady_timer wake_;
  std::deque<Step> steps_;
  std::string written_;
  bool eof_after_script_ = true;
  bool cancelled_ = false;
  bool waiting_ = false;
  bool closed_ = false;
  bool shut_down_ = false;
  int fail_at_ = 0;
  int ops_ = 0;
  bool failure_hit_ = false;
};

}  // namespace ferry::test
