#include "http/error_response.h"

#include "http/header_rewrite.h"

namespace ferry::http {

namespace {

// RFC 8941 sf-string: printable ASCII, with '"' and '\' escaped.
std::string sf_string(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u > 0x7e) {
      out.push_back('?');
      continue;
    }
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

std::string_view advice(const ProxyError& err) {
  if (err.client_auth)
    return "This ferry wants a client token: put it in the proxy URL as the password "
           "(HTTP_PROXY=http://run:TOKEN@host:port) or send Proxy-Authorization: Bearer TOKEN.";
  // Refusals by an upstream proxy are not ferry's own configuration.
  if (err.http_status() == 407)
    return "The upstream proxy wants credentials ferry could not provide or that it rejected. Check --user, "
           "--password-file (or user:pass@ in the upstream URL) and --auth.";
  if (err.http_status() == 502 && err.type == ProxyErrc::http_request_denied)
    return "The upstream proxy refused this request. Ask its operators, or route the host around it (--no-proxy).";
  switch (err.type) {
    case ProxyErrc::dns_error:
    case ProxyErrc::dns_timeout:
      return "Check the host name in the URL, and that this machine's DNS resolver can resolve it.";
    case ProxyErrc::connection_refused:
      return "Nothing accepts connections at that address and port. Check the URL's port and that the server runs.";
    case ProxyErrc::connection_timeout:
      return "The server did not answer in time. Check that it is reachable from this machine (firewall, routing).";
    case ProxyErrc::destination_ip_prohibited: return "ferry does not connect to this address.";
    case ProxyErrc::http_request_denied: return "ferry's configuration does not allow this request.";
    case ProxyErrc::http_request_error:
      return "The request is malformed or ambiguous; ferry forwarded nothing. Fix the client or the request.";
    case ProxyErrc::connection_limit_reached:
      return "ferry is at its --max-connections limit. Retry shortly, or raise the limit.";
    case ProxyErrc::proxy_loop_detected:
      return "The request came back to this ferry. Check the proxy settings (HTTP_PROXY, --upstream) for a loop.";
    case ProxyErrc::tls_certificate_error:
      return "The server's TLS certificate could not be verified against the system trust store.";
    case ProxyErrc::tls_protocol_error: return "The TLS handshake with the server failed.";
    default: return "The server's answer could not be relayed. Retry, or check the server.";
  }
}

}  // namespace

std::string proxy_status_value(const ProxyError& err) {
  std::string v = "ferry; error=";
  v.append(proxy_errc_name(err.type));
  if (!err.details.empty()) {
    v.append("; details=");
    v.append(sf_string(err.details));
  }
  return v;
}

std::string make_error_response(const ProxyError& err, std::string_view via, bool close, std::string_view method) {
  const int status = err.http_status();
  std::string body = "ferry: ";
  body.append(err.details.empty() ? std::string(proxy_errc_name(err.type)) : err.details);
  body.append("\n");
  body.append(advice(err));
  body.append("\n");

  std::string out = "HTTP/1.1 " + std::to_string(status) + " ";
  out.append(reason_phrase(status));
  out.append("\r\nProxy-Status: ");
  out.append(proxy_status_value(err));
  out.append("\r\nVia: ");
  out.append(via);
  if (err.client_auth) out.append("\r\nProxy-Authenticate: Basic realm=\"ferry\"");
  out.append("\r\nContent-Type: text/plain; charset=utf-8\r\nCache-Control: no-store\r\nContent-Length: ");
  out.append(std::to_string(body.size()));
  out.append(close ? "\r\nConnection: close\r\n\r\n" : "\r\n\r\n");
  // Content-Length stays: it is what a GET would have received.
  if (method != "HEAD") out.append(body);
  return out;
}

std::string make_options_response(std::string_view via, bool close) {
  // TRACE is missing on purpose: ferry refuses it (see client_session.cpp).
  std::string out = "HTTP/1.1 200 OK\r\nAllow: GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS, CONNECT\r\nVia: ";
  out.append(via);
  out.append("\r\nContent-Length: 0\r\n");
  if (close) out.append("Connection: close\r\n");
  out.append("\r\n");
  return out;
}

}  // namespace ferry::http
