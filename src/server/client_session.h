#pragma once
#include "server/worker.h"

namespace ferry {

// Serves one accepted client connection until it closes: reads requests,
// dispatches CONNECT or forwarding, logs one event per request or tunnel.
awaitable<void> run_client_session(Worker& worker, tcp::socket socket);

// Serves requests on `conn` until it closes (also the requests inside an
// intercepted tunnel, on a connection over ferry's TLS server side).
// Never throws: an exception ends just this connection, logged.
awaitable<void> serve_connection(ClientConnection& conn);

}  // namespace ferry
