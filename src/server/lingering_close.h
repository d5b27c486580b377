#pragma once
// Closing a socket whose receive queue holds unread bytes makes Linux send a
// RST, and a RST can destroy the response still on its way to the client
// (the peer's stack may drop data it has not handed to the application yet).
// So a session that ends while the client may still be sending stops sending
// (FIN after the queued response), reads and discards what still arrives
// until the client closes or a cap is reached, then closes (RFC 9112 §9.6).
#include <cstdint>

#include "base/duration.h"
#include "net/asio.h"

namespace ferry {

struct LingerLimits {
  Millis time;     // the whole drain, from the shutdown
  uint64_t bytes;  // discarded at most; a client sending more gets the reset
};

// For client sessions: enough for a client that uploads some tens of MiB over
// loopback before it reads the answer; past that, holding the connection
// costs more than the reset.
inline constexpr LingerLimits kClientLinger{std::chrono::seconds(2), 32 << 20};

awaitable<void> lingering_close(tcp::socket& socket, LingerLimits limits);

}  // namespace ferry
