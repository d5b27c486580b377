// The chunked decoder: splitting the input anywhere must not change the
// outcome.
//
// The first two input bytes seed the pseudo-random piece sizes; the rest is
// the body. The decoder is run once on the whole body and once on pieces,
// and must give the same status, payload and consumed byte count. A decoded
// payload re-encoded with chunk_header() must decode back to itself.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "http/chunked_decoder.h"

using namespace ferry::http;

namespace {

struct Outcome {
  ChunkedDecoder::Status status = ChunkedDecoder::Status::need_more;
  std::string payload;
  size_t consumed = 0;
};

// Feeds one piece until the decoder wants more; false once done or failed.
bool feed(ChunkedDecoder& dec, std::string_view in, Outcome& out) {
  while (true) {
    auto s = dec.step(in);
    FUZZ_CHECK(s.consumed <= in.size());
    out.consumed += s.consumed;
    in.remove_prefix(s.consumed);
    switch (s.status) {
      case ChunkedDecoder::Status::data:
        FUZZ_CHECK(!s.data.empty());
        out.payload.append(s.data);
        break;
      case ChunkedDecoder::Status::need_more: FUZZ_CHECK(in.empty()); return true;
      case ChunkedDecoder::Status::done:
        FUZZ_CHECK(dec.done());
        out.status = s.status;
        return false;
      case ChunkedDecoder::Status::error:
        FUZZ_CHECK(!s.error.empty());
        FUZZ_CHECK(!dec.done());
        out.status = s.status;
        return false;
    }
  }
}

Outcome decode_whole(std::string_view body) {
  ChunkedDecoder dec;
  Outcome out;
  feed(dec, body, out);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  if (size < 2) return 0;
  uint32_t rng = (uint32_t(bytes[0]) << 8 | bytes[1]) * 2654435761u + 1;
  std::string_view body(reinterpret_cast<const char*>(bytes + 2), size - 2);

  Outcome whole = decode_whole(body);

  ChunkedDecoder dec;
  Outcome split;
  size_t pos = 0;
  while (pos < body.size()) {
    rng = rng * 1103515245u + 12345u;
    // Mostly tiny pieces (byte boundaries are where bugs live), sometimes big.
    size_t n = (rng >> 16) & 7;
    if (((rng >> 24) & 3) == 0) n = (rng >> 8) & 0xff;
    if (n == 0) n = 1;
    n = std::min(n, body.size() - pos);
    // Empty steps in between must be harmless.
    if (((rng >> 20) & 15) == 0 && !feed(dec, {}, split)) break;
    if (!feed(dec, body.substr(pos, n), split)) break;
    pos += n;
  }

  FUZZ_CHECK(split.status == whole.status);
  FUZZ_CHECK(split.payload == whole.payload);
  FUZZ_CHECK(split.consumed == whole.consumed);
  if (whole.status == ChunkedDecoder::Status::done) {
    // Re-encode as ferry would (one chunk per 1000 bytes) and decode again.
    std::string reencoded;
    for (size_t off = 0; off < whole.payload.size(); off += 1000) {
      auto piece = std::string_view(whole.payload).substr(off, 1000);
      reencoded += chunk_header(piece.size());
      reencoded += piece;
      reencoded += kChunkTrailer;
    }
    reencoded += kLastChunk;
    Outcome again = decode_whole(reencoded);
    FUZZ_CHECK(again.status == ChunkedDecoder::Status::done);
    FUZZ_CHECK(again.payload == whole.payload);
    FUZZ_CHECK(again.consumed == reencoded.size());
  }
  return 0;
}
