#pragma once
// A TLS origin on 127.0.0.1 ("localhost", trusted through the bed's own
// origin trust) and the UpstreamContext to reach it, for https_fetch and
// the STS client. Each connection's request (head and Content-Length body)
// is recorded and answered with what `respond` returns; "" holds the
// connection open without answering (timeouts).
#include <unistd.h>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <cstdio>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "http/head_reader.h"
#include "log/event_log.h"
#include "net/dns_pool.h"
#include "net/tls_context.h"
#include "net/tls_stream.h"
#include "routing/proxy_resolver.h"
#include "test_certificates.h"
#include "upstream/upstream_context.h"

namespace ferry::testing {

// Always the same list (direct unless told otherwise).
class FixedResolver final : public ProxyResolver {
 public:
  explicit FixedResolver(ProxyListPtr list = make_proxy_list({direct_chain()})) : list_(std::move(list)) {}
  awaitable<Expected<Resolution, ProxyError>> resolve(const RouteQuery& q) override { co_return *resolve_now(q); }
  std::optional<Resolution> resolve_now(const RouteQuery& q) const override {
    last_host = std::string(q.host);
    return Resolution{list_, "fixed"};
  }
  mutable std::string last_host;

 private:
  ProxyListPtr list_;
};

struct FetchBed {
  asio::io_context io;
  DnsPool dns;
  DestinationFilter filter;
  Destinations destinations{dns, filter};
  std::unique_ptr<TlsClientContext> origin_tls;
  TlsClientContext proxy_tls;
  UpstreamHealth health;
  AuthRegistry auth;
  EventLog log{LogFormat::json, LogLevel::error};
  BlockingPool blocking{1};
  std::unique_ptr<UpstreamContext> ctx;
  std::unique_ptr<TlsServerContext> server_tls;
  tcp::acceptor acceptor{io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)};
  std::function<std::string(const std::string& request)> respond = [](const std::string&) {
    return std::string("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
  };
  std::vector<std::string> requests;

  FetchBed() {
    auto [cert, key] = self_signed("localhost");
    char path[] = "/tmp/fetch_bed_ca_XXXXXX";
    const int fd = ::mkstemp(path);
    ::close(fd);
    std::ofstream(path) << cert;
    origin_tls = TlsClientContext::with_ca_file(path).value();
    std::remove(path);
    server_tls = TlsServerContext::from_pem(cert, key).value();
    ctx = std::make_unique<UpstreamContext>(UpstreamContext{Millis(2000), destinations, proxy_tls, *origin_tls, health,
                                                            auth, log, blocking});
    asio::co_spawn(io, serve(), asio::detached);
  }

  uint16_t port() const { return acceptor.local_endpoint().port(); }
  std::string url(const std::string& path = "/") const { return "https://localhost:" + std::to_string(port()) + path; }

  awaitable<void> serve() {
    for (;;) {
      auto [ec, sock] = co_await acceptor.async_accept(nothrow_awaitable);
      if (ec) co_return;
      asio::co_spawn(io, answer(std::move(sock)), asio::detached);
    }
  }

  awaitable<void> answer(tcp::socket sock) {
    auto tls = co_await tls_accept(std::make_unique<TcpStream>(std::move(sock)), *server_tls, Millis(5000));
    if (!tls) co_return;
    ByteStream& s = **tls;
    ReadBuffer buf;
    HeadRead r = co_await read_head(s, buf);
    if (r.status != HeadRead::Status::complete) co_return;
    std::string request(buf.data().substr(0, r.head_size));
    buf.consume(r.head_size);
    size_t length = 0;
    if (auto at = request.find("Content-Length: "); at != std::string::npos)
      length = std::stoul(request.substr(at + 16));
    error_code ec;
    while (buf.size() < length && !ec) co_await buf.read_from(s, ec, 1 << 20);
    request += buf.data().substr(0, length);
    requests.push_back(request);
    const std::string response = respond(request);
    if (response.empty()) {  // hold: wait for the client to go
      char c;
      co_await s.read_some(asio::buffer(&c, 1), ec);
      co_return;
    }
    co_await s.write(asio::buffer(response), ec);
    co_await s.shutdown_send();
    co_await s.read_some(asio::buffer(&length, 1), ec);  // until the client closes
  }

  // Runs `body` to completion (the origin keeps serving meanwhile).
  template <class Make>
  void run(Make make) {
    std::exception_ptr failure;
    asio::co_spawn(io, make(), [&](std::exception_ptr e) {
      failure = e;
      io.stop();
    });
    io.run();
    io.restart();
    if (failure) std::rethrow_exception(failure);
  }
};

}  // namespace ferry::testing
