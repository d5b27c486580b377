#pragma once
// Incremental decoder for the chunked transfer coding (RFC 9112 §7.1).
//
// ferry decodes and re-encodes chunked bodies instead of copying the framing
// through: what the next hop sees is always canonical, so a malformed or
// ambiguous chunk size can never be interpreted differently downstream.
// Chunk extensions and trailer fields are validated and then dropped.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace ferry::http {

class ChunkedDecoder {
 public:
  enum class Status { need_more, data, done, error };
  struct Step {
    Status status = Status::need_more;
    size_t consumed = 0;    // bytes of the input used by this step
    std::string_view data;  // payload, a view into the input, when status == data
    std::string_view error;
  };

  // Consumes a prefix of `in`. Call again with the unconsumed rest (or more
  // input after need_more) until done or error.
  Step step(std::string_view in);
  bool done() const { return state_ == State::done; }

 private:
  enum class State { size_line, data, data_cr, data_lf, trailer_line, done, failed };
  Step fail(std::string_view why, size_t consumed);
  std::string_view finish_size_line(std::string_view line, bool& last);

  State state_ = State::size_line;
  uint64_t remaining_ = 0;
  std::string line_;  // a size or trailer line received across reads
  size_t trailer_bytes_ = 0;
};

// Framing for re-encoding: "<hex>\r\n" for a chunk of `size` bytes.
std::string chunk_header(size_t size);
inline constexpr std::string_view kChunkTrailer = "\r\n";
inline constexpr std::string_view kLastChunk = "0\r\n\r\n";

}  // namespace ferry::http
