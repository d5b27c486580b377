#pragma once
// One HTTP/1.1 request of ferry's own (an STS call) to an http:// or
// https:// URL, along the route a client's request would take: the
// resolver picks the proxies, and the upstream dialer opens the connection
// (direct, SOCKS5, or a CONNECT tunnel through an http(s) upstream with
// Negotiate/NTLM/Basic answered as for clients; TLS to the origin verified
// with the origin trust, --origin-ca included).
//
// An http:// URL whose route is an http(s) forward proxy also goes through
// a CONNECT tunnel (origin-form inside it) rather than as an absolute-form
// request: one code path, and the tunnel's auth exchange is the shared one.
//
// The response is read with ferry's strict parsers; its head must fit
// http::kMaxHeadSize and its body kMaxFetchBody. One request per
// connection (Connection: close): these calls are rare.
#include <string>
#include <utility>
#include <vector>

#include "base/duration.h"
#include "base/expected.h"
#include "base/proxy_error.h"
#include "net/asio.h"
#include "routing/proxy_resolver.h"
#include "upstream/upstream_context.h"

namespace ferry {

inline constexpr size_t kMaxFetchBody = 1024 * 1024;

struct HttpRequest {
  std::string method = "GET";
  std::string url;  // http://host[:port]/path?query or https://…
  // Fields besides Host, Content-Length and Connection, which are added.
  // They may hold credentials (Authorization): never logged here.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

struct HttpResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;  // decoded from chunked when it came chunked

  // The first field of that name (case-insensitive), or empty.
  std::string_view header(std::string_view name) const;
};

// Any HTTP status is a response; an error is a failure to get one (route,
// connect, TLS, timeout, malformed or oversized response). Errors name the
// URL without its query, never a header value. `timeout` bounds the
// request and response once connected; the connection itself is bounded by
// the context's connect timeout (per hop).
awaitable<Expected<HttpResponse, ProxyError>> https_fetch(const UpstreamContext& ctx, ProxyResolver& resolver,
                                                          const HttpRequest& request, Millis timeout);

}  // namespace ferry
