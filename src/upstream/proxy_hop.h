#pragma once
// The connectors of one upstream hop, stacked like curl's connection
// filters: TCP, then TLS for an https:// proxy, then either an HTTP CONNECT
// exchange or a SOCKS5 handshake that turns the connection into a tunnel.
#include <string>
#include <vector>

#include "base/expected.h"
#include "base/host_port.h"
#include "http/message_framing.h"
#include "net/byte_stream.h"
#include "net/read_buffer.h"
#include "upstream/upstream_context.h"

namespace ferry {

// Why a hop failed, and whether the next upstream should be tried: only
// failures to reach or speak to the proxy fail over; a proxy's refusal
// (403, 407, SOCKS "not allowed") is its answer and goes to the client.
struct HopFailure {
  ProxyError error;
  bool fail_over = false;
};

struct Tunnel {
  ByteStreamPtr stream;
  std::string early_bytes;  // target bytes that arrived with the proxy's reply
};

// The Proxy-Authenticate values of a proxy's response, in order.
std::vector<std::string> proxy_authenticate_values(const http::ResponseHead& resp);

// Skips a proxy error reply's small body (a 407's page) so the connection
// can carry the retry. False when that is not cheap (chunked, until close,
// over 64 KiB) or the proxy closes: then the retry needs a new connection.
awaitable<bool> skip_small_body(ByteStream& s, ReadBuffer& buf, const http::ResponseInfo& info, Millis timeout);

// TCP to the proxy, plus TLS (verified against ctx.proxy_tls) for https://.
awaitable<Expected<ByteStreamPtr, HopFailure>> connect_to_proxy(const UpstreamContext& ctx, const ProxyUrl& proxy);

// Asks an http:// or https:// proxy for a tunnel to `target`, answering
// one 407 (two for a stale Digest nonce). Any reply other than 2xx or 407
// is a failure: the proxy's error page is never passed off as the target's.
// With `client_speaks_first`, target bytes arriving before the client has
// sent anything are a protocol error (Chromium's rule); raw TCP tunnels
// (ssh, smtp) pass them on as early_bytes instead.
// `forwarded_via` holds the client's Via field lines ("Via: …\r\n" each),
// sent before ferry's own (ctx.via).
awaitable<Expected<Tunnel, HopFailure>> http_connect_tunnel(const UpstreamContext& ctx, const ProxyUrl& proxy,
                                                            const HostPort& target, bool client_speaks_first,
                                                            std::string_view forwarded_via = {});

// The Via field lines of a client's request, rendered for forwarded_via.
std::string forwarded_via_lines(const std::vector<http::HeaderField>& fields);

// One unauthenticated CONNECT to `target`, to learn what the proxy asks
// for (`ferry check`): its status and Proxy-Authenticate values.
struct ProxyProbe {
  int status = 0;
  std::vector<std::string> challenges;
};
awaitable<Expected<ProxyProbe, HopFailure>> probe_proxy(const UpstreamContext& ctx, const ProxyUrl& proxy,
                                                        const HostPort& target);

// SOCKS5 (RFC 1928) with username/password (RFC 1929) when the URL has
// userinfo. socks5h sends the name; socks5 resolves it here first.
awaitable<Expected<Tunnel, HopFailure>> socks5_tunnel(const UpstreamContext& ctx, const ProxyUrl& proxy,
                                                      const HostPort& target);

}  // namespace ferry
