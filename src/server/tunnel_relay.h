#pragma once
// Bidirectional byte relay for CONNECT tunnels and upgraded connections.
// Each direction ends independently (half-close is passed on with a
// shutdown); an error on either side ends both; no traffic for the idle
// timeout ends both.
#include "config/config.h"
#include "net/read_buffer.h"
#include "server/deadline.h"

namespace ferry {

struct TunnelStats {
  uint64_t a_to_b = 0;
  uint64_t b_to_a = 0;
  uint64_t kernel_a_to_b = 0;  // of the above, moved by splice (not seen by stream wrappers)
  uint64_t kernel_b_to_a = 0;
  bool idle_timeout = false;
};

// Bytes already buffered on either side are sent first. When both streams
// are plain TCP and the mode allows it, the kernel moves the data with
// splice(2) through a pipe and it never enters user space.
awaitable<TunnelStats> relay_tunnel(ByteStream& a, ReadBuffer& a_buf, ByteStream& b, ReadBuffer& b_buf,
                                    Deadline& deadline, Millis idle_timeout, RelayMode mode);

}  // namespace ferry
