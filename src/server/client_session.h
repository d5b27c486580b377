#pragma once
#include "server/worker.h"

namespace ferry {

// Serves one accepted client connection until it closes: reads requests,
// dispatches CONNECT or forwarding, logs one event per request or tunnel.
awaitable<void> run_client_session(Worker& worker, tcp::socket socket);

}  // namespace ferry
