#pragma once
// Errors that ferry reports to clients, named by their RFC 9209 Proxy-Status
// error type, each with the HTTP status ferry answers with.
#include <string>
#include <string_view>

namespace ferry {

enum class ProxyErrc {
  dns_error,
  dns_timeout,
  destination_unavailable,
  destination_ip_prohibited,
  connection_refused,
  connection_terminated,
  connection_timeout,
  connection_read_timeout,
  connection_limit_reached,
  tls_protocol_error,
  tls_certificate_error,
  http_request_error,
  http_request_denied,
  http_response_incomplete,
  http_response_header_section_size,
  http_response_timeout,
  http_upgrade_failed,
  http_protocol_error,
  proxy_internal_error,
  proxy_configuration_error,
  proxy_loop_detected,
};

// RFC 9209 registry name, e.g. "dns_error".
std::string_view proxy_errc_name(ProxyErrc e);
// The status ferry uses when it answers with this error itself.
int default_status(ProxyErrc e);

struct ProxyError {
  ProxyErrc type;
  std::string details;  // human words; never carries secrets
  int status = 0;       // 0 = default_status(type)
  // ferry itself wants the client's token (SPEC §7 "Client tokens"): a 407
  // with ferry's own Proxy-Authenticate challenge, not an upstream's.
  bool client_auth = false;

  int http_status() const { return status ? status : default_status(type); }
};

}  // namespace ferry
