#include "net/https_fetch.h"

#include <strings.h>
#include <boost/asio/experimental/awaitable_operators.hpp>

#include "http/chunked_decoder.h"
#include "http/head_reader.h"
#include "http/message_framing.h"
#include "http/request_target.h"
#include "server/deadline.h"
#include "upstream/upstream_dialer.h"

// GCC 12 note (see server/http_forwarder.cpp): awaited calls take named
// locals and results are named before they are returned.

namespace ferry {

using namespace asio::experimental::awaitable_operators;

std::string_view HttpResponse::header(std::string_view name) const {
  for (const auto& [n, v] : headers)
    if (n.size() == name.size() && ::strncasecmp(n.data(), name.data(), n.size()) == 0) return v;
  return {};
}

namespace {

std::string render_head(const HttpRequest& req, const http::AbsoluteTarget& target) {
  std::string head = req.method + " " + target.origin_form + " HTTP/1.1\r\nHost: " + target.host_header() + "\r\n";
  for (const auto& [name, value] : req.headers) head += name + ": " + value + "\r\n";
  if (!req.body.empty() || req.method == "POST" || req.method == "PUT")
    head += "Content-Length: " + std::to_string(req.body.size()) + "\r\n";
  head += "Connection: close\r\n\r\n";
  return head;
}

bool has_line_break(std::string_view s) { return s.find_first_of(std::string_view("\r\n\0", 3)) != s.npos; }

// The exchange on an open stream; `name` (the URL without its query) for errors.
class Exchange {
 public:
  Exchange(ByteStream& stream, Deadline& deadline, std::string name)
      : stream_(stream), deadline_(deadline), name_(std::move(name)) {}

  awaitable<Expected<HttpResponse, ProxyError>> run(const std::string& head, const HttpRequest& req) {
    error_code ec;
    co_await stream_.write({asio::buffer(head), asio::buffer(req.body), asio::const_buffer{}}, ec);
    if (ec) co_return Unexpected{io_error("sending the request to", ec)};

    HttpResponse resp;
    http::ResponseInfo info;
    for (;;) {  // 1xx interim answers are skipped
      HeadRead r = co_await read_head(stream_, buf_);
      if (r.status != HeadRead::Status::complete) co_return Unexpected{head_error(r)};
      http::ResponseHead h;
      const auto parsed = http::parse_response_head(buf_.data().substr(0, r.head_size), h);
      if (parsed.state != http::ParseState::complete) co_return Unexpected{protocol_error(std::string(parsed.error))};
      if (h.status >= 100 && h.status < 200 && h.status != 101) {
        buf_.consume(r.head_size);
        continue;
      }
      auto analyzed = http::analyze_response(h, req.method);
      if (!analyzed) co_return Unexpected{protocol_error(analyzed.error())};
      info = std::move(*analyzed);
      resp.status = h.status;
      for (const auto& f : h.fields) resp.headers.emplace_back(std::string(f.name), std::string(f.value));
      buf_.consume(r.head_size);
      break;
    }
    if (resp.status == 101)
      co_return Unexpected{protocol_error("101 Switching Protocols to a request without Upgrade")};

    std::optional<ProxyError> body_error;
    switch (info.body) {
      case http::BodyKind::none: break;
      case http::BodyKind::content_length: body_error = co_await read_sized(info.content_length, resp.body); break;
      case http::BodyKind::chunked: body_error = co_await read_chunked(resp.body); break;
      case http::BodyKind::until_close: body_error = co_await read_to_close(resp.body); break;
    }
    if (body_error) co_return Unexpected{std::move(*body_error)};
    co_return std::move(resp);
  }

 private:
  ProxyError too_large() const {
    return {ProxyErrc::http_protocol_error,
            "response from " + name_ + " larger than " + std::to_string(kMaxFetchBody) + " bytes"};
  }
  ProxyError protocol_error(const std::string& what) const {
    return {ProxyErrc::http_protocol_error, "malformed response from " + name_ + ": " + what};
  }
  ProxyError io_error(std::string_view doing, const error_code& ec) const {
    if (deadline_.expired())
      return {ProxyErrc::http_response_timeout, "no complete response from " + name_ + " within the time limit"};
    return {ProxyErrc::connection_terminated, std::string(doing) + " " + name_ + " failed: " + ec.message()};
  }
  ProxyError head_error(const HeadRead& r) const {
    using S = HeadRead::Status;
    switch (r.status) {
      case S::closed_clean:
        return {ProxyErrc::connection_terminated, name_ + " closed the connection without a response"};
      case S::closed_partial:
        return {ProxyErrc::http_response_incomplete, name_ + " closed the connection inside the response header"};
      case S::io_error: return io_error("reading the response from", r.ec);
      case S::bad_head:
        if (r.too_large)
          return {ProxyErrc::http_response_header_section_size,
                  "response header from " + name_ + " larger than 64 KiB"};
        return protocol_error(std::string(r.error));
      case S::complete: break;
    }
    return {ProxyErrc::proxy_internal_error, "unexpected head state"};
  }

  // More bytes into buf_; an error at the end of the stream or on failure.
  awaitable<std::optional<ProxyError>> fill() {
    error_code ec;
    co_await buf_.read_from(stream_, ec, 64 * 1024);
    if (is_end_of_stream(ec))
      co_return ProxyError{ProxyErrc::http_response_incomplete, name_ + " closed the connection inside the body"};
    if (ec) co_return io_error("reading the response from", ec);
    co_return std::nullopt;
  }

  awaitable<std::optional<ProxyError>> read_sized(uint64_t length, std::string& out) {
    if (length > kMaxFetchBody) co_return too_large();
    while (out.size() < length) {
      if (buf_.empty())
        if (auto e = co_await fill()) co_return e;
      const size_t n = std::min<uint64_t>(buf_.size(), length - out.size());
      out.append(buf_.data().substr(0, n));
      buf_.consume(n);
    }
    co_return std::nullopt;
  }

  awaitable<std::optional<ProxyError>> read_chunked(std::string& out) {
    http::ChunkedDecoder decoder;
    while (!decoder.done()) {
      if (buf_.empty())
        if (auto e = co_await fill()) co_return e;
      const auto step = decoder.step(buf_.data());
      if (step.status == http::ChunkedDecoder::Status::error) co_return protocol_error(std::string(step.error));
      if (step.status == http::ChunkedDecoder::Status::data) {
        if (out.size() + step.data.size() > kMaxFetchBody) co_return too_large();
        out.append(step.data);
      }
      buf_.consume(step.consumed);
      if (step.status == http::ChunkedDecoder::Status::need_more && step.consumed == 0)
        if (auto e = co_await fill()) co_return e;
    }
    co_return std::nullopt;
  }

  // A body delimited by the close: a TLS peer must end it with close_notify
  // (a bare FIN could be an attacker's truncation).
  awaitable<std::optional<ProxyError>> read_to_close(std::string& out) {
    for (;;) {
      out.append(buf_.data());
      buf_.consume(buf_.size());
      if (out.size() > kMaxFetchBody) co_return too_large();
      error_code ec;
      co_await buf_.read_from(stream_, ec, 64 * 1024);
      if (ec == asio::error::eof) {
        out.append(buf_.data());
        buf_.consume(buf_.size());
        if (out.size() > kMaxFetchBody) co_return too_large();
        co_return std::nullopt;
      }
      if (ec == asio::ssl::error::stream_truncated)
        co_return ProxyError{ProxyErrc::http_response_incomplete, name_ + " ended the body without close_notify"};
      if (ec) co_return io_error("reading the response from", ec);
    }
  }

  ByteStream& stream_;
  Deadline& deadline_;
  std::string name_;
  ReadBuffer buf_;
};

}  // namespace

awaitable<Expected<HttpResponse, ProxyError>> https_fetch(const UpstreamContext& ctx, ProxyResolver& resolver,
                                                          const HttpRequest& request, Millis timeout) {
  auto target = http::parse_absolute_target(request.url);
  if (!target)
    co_return Unexpected{ProxyError{ProxyErrc::proxy_configuration_error,
                                    "bad URL " + http::loggable_target(request.url) + ": " + target.error()}};
  const std::string name = (target->tls ? "https://" : "http://") + target->host_header();
  for (const auto& [n, v] : request.headers)
    if (!http::is_token(n) || has_line_break(v))
      co_return Unexpected{ProxyError{ProxyErrc::proxy_internal_error, "bad header field for " + name}};

  const std::string authority = target->host_header();
  RouteQuery query;
  query.kind = target->tls ? TrafficKind::https_url : TrafficKind::plain_http;
  query.host = target->authority.host;
  query.port = target->authority.port;
  query.authority = authority;
  query.path = target->origin_form;
  std::optional<Resolution> resolved = resolver.resolve_now(query);
  if (!resolved) {
    auto waited = co_await resolver.resolve(query);
    if (!waited) co_return Unexpected{waited.error()};
    resolved = std::move(*waited);
  }
  const ProxyListPtr proxies = std::move(resolved->proxies);  // the candidates point into it
  std::vector<HopCandidate> candidates = plan_request_hops(ctx, *proxies, target->authority, target->tls);
  for (auto& c : candidates) c.absolute_form = false;  // a tunnel even for http:// (see the header)
  auto opened = co_await open_request_hop(ctx, candidates, target->authority, target->tls);
  if (!opened) co_return Unexpected{opened.error()};
  ByteStreamPtr stream = std::move(opened->stream);

  Deadline deadline(co_await asio::this_coro::executor);
  deadline.arm(timeout, [&stream] { stream->cancel(); });
  Exchange exchange(*stream, deadline, name);
  const std::string head = render_head(request, *target);
  std::variant<Expected<HttpResponse, ProxyError>, std::monostate> done =
      co_await (exchange.run(head, request) || deadline.watch());
  deadline.disarm();
  stream->close();
  if (done.index() != 0) co_return Unexpected{ProxyError{ProxyErrc::proxy_internal_error, "deadline ended first"}};
  Expected<HttpResponse, ProxyError> result = std::move(std::get<0>(done));
  co_return std::move(result);
}

}  // namespace ferry
