#pragma once
// Per-client-connection state, owned by the session coroutine's frame.
// Handlers borrow it by reference for the duration of one request.
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/proxy_error.h"
#include "net/read_buffer.h"
#include "policy/profile.h"
#include "server/client_identity_state.h"
#include "server/counting_stream.h"
#include "server/deadline.h"
#include "server/server_context.h"

namespace ferry {

class Worker;
struct InjectRule;

// Set on the connection that serves the requests inside an intercepted
// CONNECT tunnel (TLS terminated by ferry): every request goes to `origin`
// over TLS, and `rules` apply to it.
struct InterceptScope {
  HostPort origin;  // the CONNECT target
  std::vector<std::shared_ptr<const InjectRule>> rules;
  // The origin leg dialled during the client's handshake (origin_predial.h):
  // the tunnel's first request takes the connection, or is answered with
  // the dial's failure. Held by the tunnel, not pooled: the pool's cap per
  // origin would close most of them when many tunnels open at once.
  ByteStreamPtr early_origin;
  std::string early_origin_key;                              // its pool key
  std::chrono::steady_clock::time_point early_origin_since;  // when it was ready
  std::optional<ProxyError> origin_failure;
};

struct ClientConnection {
  // `transport` (the client's TCP stream, or TLS over it inside an
  // intercepted tunnel) outlives the connection.
  ClientConnection(Worker& w, ServerContext& c, SnapshotPtr first, ByteStream& transport, std::string peer_text,
                   ClientScope client_scope)
      : worker(w), ctx(c), snapshot(std::move(first)), client(transport), deadline(transport.socket().get_executor()),
        peer(std::move(peer_text)), scope(client_scope) {}

  // The snapshot this request is served under; taken again before each
  // request (a reload between requests applies to the next one).
  const Config& config() const { return *snapshot->config; }
  void refresh_snapshot(const SnapshotPtr& current) {
    if (snapshot != current) snapshot = current;
  }

  Worker& worker;
  ServerContext& ctx;
  SnapshotPtr snapshot;
  CountingStream client;  // counts bytes for the request log
  ReadBuffer buf;
  Deadline deadline;
  std::string peer;         // "127.0.0.1:54321"
  const ClientScope scope;  // remote clients get the destination policy (found once, not per request)
  bool idle = false;        // waiting for a new request (may be closed on shutdown)
  unsigned requests = 0;
  // ferry ends the session after answering while the client may still be
  // sending (an unread body, pipelined requests): close with a linger.
  bool linger = false;
  // Inside an intercepted tunnel: the tunnel's origin and rules (owned by
  // the tunnel). The snapshot then stays the tunnel's for every request.
  InterceptScope* intercept = nullptr;
  // Who the client is (client_identity.h): found for each request from its
  // Proxy-Authorization; a tunnel's requests are its CONNECT's client.
  ClientIdentity who;

  const InjectRules& inject_rules() const { return who.inject_rules(config()); }
  const NetworkPolicy* policy() const { return who.policy(config()); }
  const UpstreamContext& upstream() const { return who.upstream(*snapshot, scope); }

  // Writes a response ferry makes itself (Proxy-Status and all); `method` is
  // the request's ("" when there was none), so a HEAD gets no body.
  awaitable<void> send_error(const ProxyError& err, bool close, std::string_view method);
  // Writes bytes ferry composed itself, under the header timeout.
  awaitable<void> send_own(const std::string& response);
};

// What a handler reports for the request log.
struct RequestOutcome;
// Answers with ferry's own error response and returns the matching outcome.
// `err` is taken by value: the coroutine may outlive the caller's copy.
awaitable<RequestOutcome> answer_error(ClientConnection& conn, ProxyError err, bool keep_alive,
                                       std::string_view method);

namespace http {
struct RequestHead;
struct RequestInfo;
}  // namespace http
// Answers a well-framed request that ferry refuses itself (no byte goes
// on); keeps the connection when its framing allows.
awaitable<RequestOutcome> decline(ClientConnection& conn, const http::RequestHead& head, const http::RequestInfo& info,
                                  ProxyError err, std::string_view method);

struct RequestOutcome {
  int status = 0;
  std::string error;             // RFC 9209 type, empty on success
  std::string detail;            // for the log
  std::string route = "direct";  // "direct" or the upstream's redacted URL
  std::string injected;          // names of the fields inject rules set (never values)
  bool keep_alive = false;
  uint64_t upstream_bytes_sent = 0;
  uint64_t upstream_bytes_received = 0;
};

}  // namespace ferry
