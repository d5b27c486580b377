#include "server/body_relay.h"

#include "base/secret.h"
#include "http/chunked_decoder.h"

namespace ferry {

using http::BodyKind;

namespace {

struct Relay {
  ByteStream& src;
  ReadBuffer& buf;
  ByteStream& dst;
  bool chunk_output;
  Deadline& deadline;
  StreamSubstituter* transform;
  std::string transformed;  // may hold a real token (substitution): wiped
  ~Relay() {
    if (transform) cleanse_string(transformed);
  }

  // Passes body bytes on, through the transform when there is one (which
  // may hold back a tail that could begin a match).
  std::string* capture;
  size_t capture_limit;
  uint64_t* counted;

  awaitable<std::optional<BodyRelayError>> write(std::string_view data) {
    if (capture && capture->size() < capture_limit) capture->append(data.substr(0, capture_limit - capture->size()));
    if (counted) *counted += data.size();
    if (!transform) {
      auto e = co_await emit(data);
      co_return e;
    }
    transformed.clear();
    transform->feed(data, transformed);
    auto e = co_await emit(transformed);
    co_return e;
  }

  awaitable<std::optional<BodyRelayError>> emit(std::string_view data) {
    if (data.empty()) co_return std::nullopt;  // an empty chunk would end the body
    error_code ec;
    if (chunk_output) {
      auto header = http::chunk_header(data.size());
      co_await dst.write({asio::buffer(header), asio::buffer(data), asio::buffer(http::kChunkTrailer)}, ec);
    } else {
      co_await dst.write(asio::buffer(data), ec);
    }
    if (ec)
      co_return BodyRelayError{BodyRelayError::Side::destination, "write failed: " + ec.message(), deadline.expired()};
    deadline.extend();
    co_return std::nullopt;
  }

  awaitable<std::optional<BodyRelayError>> finish() {
    if (transform) {
      transformed.clear();
      transform->finish(transformed);
      if (auto e = co_await emit(transformed)) co_return e;
    }
    if (!chunk_output) co_return std::nullopt;
    error_code ec;
    co_await dst.write(asio::buffer(http::kLastChunk), ec);
    if (ec)
      co_return BodyRelayError{BodyRelayError::Side::destination, "write failed: " + ec.message(), deadline.expired()};
    co_return std::nullopt;
  }

  // Reads more from the source; its end is reported through `eof`, and
  // through `truncated` too when TLS did not vouch for it (no close_notify).
  awaitable<std::optional<BodyRelayError>> fill(bool& eof, bool& truncated) {
    error_code ec;
    co_await buf.read_from(src, ec, buf.capacity());
    eof = is_end_of_stream(ec);
    truncated = ec == asio::ssl::error::stream_truncated;
    if (ec && !eof)
      co_return BodyRelayError{BodyRelayError::Side::source, "read failed: " + ec.message(), deadline.expired()};
    deadline.extend();
    co_return std::nullopt;
  }
};

}  // namespace

awaitable<std::optional<BodyRelayError>> relay_body(ByteStream& src, ReadBuffer& src_buf, ByteStream& dst,
                                                    const BodySpec& spec, Deadline& deadline, Millis idle) {
  deadline.arm(idle, [&] {
    src.cancel();
    dst.cancel();
  });
  struct DisarmOnExit {
    Deadline& d;
    ~DisarmOnExit() { d.disarm(); }
  } disarm_on_exit{deadline};
  Relay r{src,         src_buf, dst, spec.chunk_output, deadline, spec.transform, {}, spec.capture, spec.capture_limit,
          spec.counted};
  bool eof = false, truncated = false;
  switch (spec.kind) {
    case BodyKind::none: break;
    case BodyKind::content_length: {
      uint64_t remaining = spec.length;
      while (remaining) {
        if (src_buf.empty()) {
          if (auto e = co_await r.fill(eof, truncated)) co_return e;
          if (eof)
            co_return BodyRelayError{BodyRelayError::Side::source, "connection closed before the end of the body"};
          continue;
        }
        auto data = src_buf.data();
        if (data.size() > remaining) data = data.substr(0, size_t(remaining));
        if (auto e = co_await r.write(data)) co_return e;
        src_buf.consume(data.size());
        remaining -= data.size();
      }
      break;
    }
    case BodyKind::chunked: {
      http::ChunkedDecoder decoder;
      while (!decoder.done()) {
        if (src_buf.empty()) {
          if (auto e = co_await r.fill(eof, truncated)) co_return e;
          if (eof) co_return BodyRelayError{BodyRelayError::Side::source, "connection closed inside a chunked body"};
          continue;
        }
        auto step = decoder.step(src_buf.data());
        if (step.status == http::ChunkedDecoder::Status::error)
          co_return BodyRelayError{BodyRelayError::Side::source, "bad chunked framing: " + std::string(step.error),
                                   false, true};
        if (step.status == http::ChunkedDecoder::Status::data) {
          if (auto e = co_await r.write(step.data)) co_return e;
        }
        src_buf.consume(step.consumed);
      }
      break;
    }
    case BodyKind::until_close: {
      for (;;) {
        if (!src_buf.empty()) {
          if (auto e = co_await r.write(src_buf.data())) co_return e;
          src_buf.consume(src_buf.size());
        }
        if (auto e = co_await r.fill(eof, truncated)) co_return e;
        // Only a close the peer's TLS signed ends this body: an injected
        // FIN must not become the last-chunk of a "complete" message.
        if (truncated)
          co_return BodyRelayError{BodyRelayError::Side::source,
                                   "TLS connection closed without close_notify: the body may be truncated"};
        if (eof) break;
      }
      break;
    }
  }
  if (spec.kind != BodyKind::none)
    if (auto e = co_await r.finish()) co_return e;
  co_return std::nullopt;
}

}  // namespace ferry
