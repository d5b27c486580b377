#pragma once
// CONNECT: open a TCP connection to host:port and relay bytes both ways.
// ferry never reads inside the tunnel.
#include "http/message_head.h"
#include "server/client_connection.h"

namespace ferry {

awaitable<RequestOutcome> handle_connect(ClientConnection& conn, const http::RequestHead& head);

}  // namespace ferry
