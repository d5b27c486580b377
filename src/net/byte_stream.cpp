#include "net/byte_stream.h"

#include <boost/asio/write.hpp>

namespace ferry {

awaitable<size_t> TcpStream::read_some(asio::mutable_buffer buf, error_code& ec) {
  auto [e, n] = co_await socket_.async_read_some(buf, nothrow_awaitable);
  ec = e;
  co_return n;
}

awaitable<void> TcpStream::write(std::array<asio::const_buffer, 3> bufs, error_code& ec) {
  auto [e, n] = co_await asio::async_write(socket_, bufs, nothrow_awaitable);
  (void)n;
  ec = e;
}

size_t TcpStream::read_available(asio::mutable_buffer buf, error_code& ec) {
  socket_.non_blocking(true, ec);
  if (ec) return 0;
  size_t n = socket_.read_some(buf, ec);
  error_code ignored;
  socket_.non_blocking(false, ignored);
  return n;
}

awaitable<void> TcpStream::shutdown_send() {
  error_code ignored;
  socket_.shutdown(tcp::socket::shutdown_send, ignored);
  co_return;
}

}  // namespace ferry
