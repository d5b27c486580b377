#pragma once
// Streams one message body from a source connection to a destination with
// bounded memory (one read buffer), decoding and optionally re-encoding
// chunked framing.
#include <optional>
#include <string>

#include "http/message_framing.h"
#include "intercept/stream_substituter.h"
#include "net/read_buffer.h"
#include "server/deadline.h"

namespace ferry {

struct BodyRelayError {
  enum class Side { source, destination } side;
  std::string what;  // for logs; no payload bytes
  bool timeout = false;
  bool bad_framing = false;  // the source's chunked framing is malformed
};

struct BodySpec {
  http::BodyKind kind = http::BodyKind::none;
  uint64_t length = 0;        // content_length
  bool chunk_output = false;  // re-encode as chunked towards the destination
  // Rewrites the bytes on their way (inject rules' substitution, response
  // scrubbing); a transform that changes lengths needs chunk_output (or a
  // close-delimited destination).
  StreamSubstituter* transform = nullptr;
  // The request log's copy of the body's first bytes (as read, before the
  // transform); null: none.
  std::string* capture = nullptr;
  size_t capture_limit = 0;
  uint64_t* counted = nullptr;  // the request log's count of the body's bytes (as read); null: none
};

// `deadline` is re-armed with `idle` before each wait and extended on progress.
awaitable<std::optional<BodyRelayError>> relay_body(ByteStream& src, ReadBuffer& src_buf, ByteStream& dst,
                                                    const BodySpec& spec, Deadline& deadline, Millis idle);

}  // namespace ferry
