#pragma once
// TLS interception of one CONNECT tunnel (SPEC §7): ferry answers 200,
// terminates the client's TLS with a leaf certificate for the CONNECT host,
// and serves the requests inside as its own, each forwarded to that host
// over a new TLS connection along the route, with the tunnel's inject rules.
#include "http/message_framing.h"
#include "http/request_target.h"
#include "intercept/inject_rule.h"
#include "server/client_connection.h"

namespace ferry {

// The CONNECT head has been consumed; `scope` names the origin and rules.
awaitable<RequestOutcome> intercept_tunnel(ClientConnection& conn, InterceptScope scope);

// One request read inside an intercepted tunnel (conn.intercept is set):
// checks that it is addressed to the tunnel's host (else 421), then
// forwards it there.
awaitable<RequestOutcome> handle_intercepted_request(ClientConnection& conn, const http::RequestHead& head,
                                                     const http::RequestInfo& info);

// Forwards a request with `rules` (non-empty) applied: an intercepted
// tunnel's request, or a plain-HTTP request to a rule's host.
awaitable<RequestOutcome> forward_injected(ClientConnection& conn, const http::RequestHead& head,
                                           const http::RequestInfo& info, const http::AbsoluteTarget& target,
                                           const InjectRules& rules);

}  // namespace ferry
