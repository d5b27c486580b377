#include "server/lingering_close.h"

#include <boost/asio/experimental/awaitable_operators.hpp>

namespace ferry {

using namespace asio::experimental::awaitable_operators;

namespace {

awaitable<void> drain_input(tcp::socket& socket, uint64_t max_bytes) {
  char sink[16 * 1024];
  uint64_t total = 0;
  while (total < max_bytes) {
    auto [ec, n] = co_await socket.async_read_some(asio::buffer(sink), nothrow_awaitable);
    if (ec) co_return;  // EOF (the client closed) or an error: nothing left to protect
    total += n;
  }
}

}  // namespace

awaitable<void> lingering_close(tcp::socket& socket, LingerLimits limits) {
  error_code ec;
  socket.shutdown(tcp::socket::shutdown_send, ec);
  if (!ec) {
    asio::steady_timer timer(socket.get_executor(), limits.time);
    co_await (drain_input(socket, limits.bytes) || timer.async_wait(nothrow_awaitable));
  }
  socket.close(ec);
}

}  // namespace ferry
