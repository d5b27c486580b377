#include "admin/admin_client.h"

#include <openssl/crypto.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include <optional>

#include "http/head_parser.h"
#include "http/message_framing.h"

namespace ferry {

namespace {

using Protocol = asio::generic::stream_protocol;

constexpr size_t kMaxReply = 2 * 1024 * 1024;

struct Exchange {
  error_code ec;
  const char* step = "connect";
  std::string received;
  bool done = false;
};

Protocol::endpoint endpoint_of(const AdminAddress& a) {
  if (a.tcp_endpoint) return Protocol::endpoint(*a.tcp_endpoint);
  return Protocol::endpoint(asio::local::stream_protocol::endpoint(a.unix_path));
}

awaitable<void> exchange(Protocol::socket& sock, Protocol::endpoint ep, const std::string& request, Exchange& x) {
  sock.open(ep.protocol(), x.ec);
  if (x.ec) co_return;
  auto [ce] = co_await sock.async_connect(ep, nothrow_awaitable);
  if ((x.ec = ce)) co_return;
  x.step = "send the request";
  auto [we, wn] = co_await asio::async_write(sock, asio::buffer(request), nothrow_awaitable);
  if ((x.ec = we)) co_return;
  x.step = "read the response";
  char buf[4096];
  for (;;) {
    auto [re, n] = co_await sock.async_read_some(asio::buffer(buf), nothrow_awaitable);
    x.received.append(buf, n);
    if (re == asio::error::eof) break;
    if ((x.ec = re)) co_return;
    if (x.received.size() > kMaxReply) {
      x.ec = asio::error::message_size;
      co_return;
    }
  }
  OPENSSL_cleanse(buf, sizeof buf);
  x.done = true;
}

}  // namespace

AdminReply::~AdminReply() { cleanse_string(body); }

Expected<AdminReply> admin_call(const AdminAddress& address, std::string_view method, std::string_view target,
                                std::string_view body, const Secret* token, Millis timeout) {
  std::string request;
  request.reserve(256 + body.size());
  request.append(method).append(" ").append(target).append(" HTTP/1.1\r\nHost: ferry-admin\r\n");
  if (token) request.append("Authorization: Bearer ").append(token->view()).append("\r\n");
  if (!body.empty()) request.append("Content-Type: application/json\r\n");
  if (!body.empty() || method == "POST")
    request.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n");
  request.append("Connection: close\r\n\r\n").append(body);

  asio::io_context io;
  Protocol::socket sock(io);
  Exchange x;
  asio::co_spawn(io, exchange(sock, endpoint_of(address), request, x), asio::detached);
  io.run_for(timeout);
  cleanse_string(request);
  const std::string where = "the admin listener at " + address.to_string();
  if (!x.done) {
    cleanse_string(x.received);
    if (x.ec) return fail("cannot " + std::string(x.step) + " to " + where + ": " + x.ec.message());
    return fail(where + " did not answer within " + format_duration(timeout));
  }
  auto scan = http::scan_for_head_end(x.received, 0);
  http::ResponseHead head;
  if (scan.state != http::ParseState::complete ||
      http::parse_response_head(std::string_view(x.received).substr(0, scan.head_size), head).state !=
          http::ParseState::complete) {
    cleanse_string(x.received);
    return fail(where + " sent a malformed response");
  }
  auto info = http::analyze_response(head, method);
  AdminReply reply;
  reply.status = head.status;
  const std::string_view rest = std::string_view(x.received).substr(scan.head_size);
  const size_t length =
      info && info->body == http::BodyKind::content_length ? size_t(info->content_length) : rest.size();
  reply.body.assign(rest.substr(0, length));
  cleanse_string(x.received);
  if (reply.body.size() < length) return fail(where + " closed the connection mid-response");
  return reply;
}

}  // namespace ferry
