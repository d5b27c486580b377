#include "http/header_rewrite.h"

#include "base/host_port.h"

namespace ferry::http {

bool is_hop_by_hop(std::string_view name, const ConnectionOptions& connection) {
  // Proxy-Authentication-Info answers ferry's own proxy auth (RFC 9110
  // §11.7.3), like Proxy-Authenticate. HTTP2-Settings belongs to an h2c upgrade (RFC 7540 §3.2.1), which
  // ferry never passes on, even when a client forgets to name it in Connection.
  static constexpr std::string_view kFixed[] = {"connection",
                                                "keep-alive",
                                                "proxy-connection",
                                                "te",
                                                "trailer",
                                                "upgrade",
                                                "transfer-encoding",
                                                "content-length",
                                                "proxy-authorization",
                                                "proxy-authenticate",
                                                "proxy-authentication-info",
                                                "http2-settings"};
  // Sizes first: asked for every field of every message, and most fields
  // are none of these.
  for (auto h : kFixed)
    if (h.size() == name.size() && iequals(name, h)) return true;
  for (const auto& t : connection.tokens)
    if (iequals(name, t)) return true;
  return false;
}

namespace {
void append_field(std::string& out, std::string_view name, std::string_view value) {
  out.append(name);
  out.append(": ");
  out.append(value);
  out.append("\r\n");
}
}  // namespace

std::string build_request_head(const RequestHead& head, const RequestInfo& info, const ForwardRequest& fwd) {
  std::string out;
  out.reserve(head.size + 128);
  out.append(fwd.method);
  out.push_back(' ');
  out.append(fwd.target);
  out.append(" HTTP/1.1\r\n");
  append_field(out, "Host", fwd.host);
  // Each intermediary that forwards an OPTIONS or TRACE request counts
  // Max-Forwards down (RFC 9110 §7.6.2); other methods may leave it alone.
  const bool count_down =
      info.max_forwards && *info.max_forwards > 0 && (fwd.method == "OPTIONS" || fwd.method == "TRACE");
  for (const auto& f : head.fields) {
    if (iequals(f.name, "host")) continue;
    if (is_hop_by_hop(f.name, info.connection)) continue;
    if (count_down && iequals(f.name, "max-forwards")) {
      append_field(out, f.name, std::to_string(*info.max_forwards - 1));
      continue;
    }
    append_field(out, f.name, f.value);
  }
  append_field(out, "Via", fwd.via);
  if (info.body == BodyKind::chunked) append_field(out, "Transfer-Encoding", "chunked");
  else if (info.body == BodyKind::content_length || info.zero_length)
    append_field(out, "Content-Length", std::to_string(info.content_length));
  if (fwd.upgrade) {
    append_field(out, "Upgrade", info.upgrade_protocol);  // the client's list without h2c
    append_field(out, "Connection", "upgrade");
  }
  out.append("\r\n");
  return out;
}

std::string build_response_head(const ResponseHead& head, const ResponseInfo& info, const ForwardResponse& fwd) {
  std::string out;
  out.reserve(head.size + 128);
  out.append("HTTP/1.1 ");
  out.append(std::to_string(head.status));
  out.push_back(' ');
  out.append(head.reason.empty() ? reason_phrase(head.status) : head.reason);
  out.append("\r\n");
  for (const auto& f : head.fields) {
    if (fwd.upgrade && iequals(f.name, "upgrade")) {
      append_field(out, f.name, f.value);
      continue;
    }
    // Content-Length of a HEAD or 304 response describes the representation,
    // not this message's framing, so it is passed on unchanged.
    // (204 and 1xx responses must not carry one at all.)
    if (iequals(f.name, "content-length") && info.body == BodyKind::none && head.status >= 200 && head.status != 204) {
      append_field(out, f.name, f.value);
      continue;
    }
    if (is_hop_by_hop(f.name, info.connection)) continue;
    append_field(out, f.name, f.value);
  }
  append_field(out, "Via", fwd.via);
  switch (fwd.body_to_client) {
    case BodyKind::chunked:
      append_field(out, "Transfer-Encoding",
                   info.other_codings.empty() ? std::string("chunked") : info.other_codings + ", chunked");
      break;
    case BodyKind::content_length: append_field(out, "Content-Length", std::to_string(info.content_length)); break;
    case BodyKind::none: break;
    case BodyKind::until_close:
      // Codings pass through untouched (e.g. "chunked, gzip", which must not
      // be chunked a second time): the client reads until close.
      if (!info.other_codings.empty()) append_field(out, "Transfer-Encoding", info.other_codings);
      break;
  }
  if (fwd.upgrade) append_field(out, "Connection", "upgrade");
  else if (fwd.close) append_field(out, "Connection", "close");
  else if (fwd.keep_alive_1_0) append_field(out, "Connection", "keep-alive");
  out.append("\r\n");
  return out;
}

std::string_view reason_phrase(int status) {
  switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 103: return "Early Hints";
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 407: return "Proxy Authentication Required";
    case 408: return "Request Timeout";
    case 413: return "Content Too Large";
    case 417: return "Expectation Failed";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Unknown";
  }
}

void remove_field(std::string& head, std::string_view name) {
  size_t line = head.find("\r\n");  // skip the request line
  while (line != std::string::npos) {
    const size_t start = line + 2;
    const size_t end = head.find("\r\n", start);
    if (end == std::string::npos || end == start) return;  // the blank line ends the head
    const size_t colon = head.find(':', start);
    if (colon != std::string::npos && colon < end &&
        iequals(std::string_view(head).substr(start, colon - start), name)) {
      head.erase(start, end + 2 - start);
      line = start - 2;
      continue;
    }
    line = end;
  }
}

}  // namespace ferry::http
