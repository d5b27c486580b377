#include "base/proxy_error.h"

namespace ferry {

std::string_view proxy_errc_name(ProxyErrc e) {
  switch (e) {
    case ProxyErrc::dns_error: return "dns_error";
    case ProxyErrc::dns_timeout: return "dns_timeout";
    case ProxyErrc::destination_unavailable: return "destination_unavailable";
    case ProxyErrc::destination_ip_prohibited: return "destination_ip_prohibited";
    case ProxyErrc::connection_refused: return "connection_refused";
    case ProxyErrc::connection_terminated: return "connection_terminated";
    case ProxyErrc::connection_timeout: return "connection_timeout";
    case ProxyErrc::connection_read_timeout: return "connection_read_timeout";
    case ProxyErrc::connection_limit_reached: return "connection_limit_reached";
    case ProxyErrc::tls_protocol_error: return "tls_protocol_error";
    case ProxyErrc::tls_certificate_error: return "tls_certificate_error";
    case ProxyErrc::http_request_error: return "http_request_error";
    case ProxyErrc::http_request_denied: return "http_request_denied";
    case ProxyErrc::http_response_incomplete: return "http_response_incomplete";
    case ProxyErrc::http_response_header_section_size: return "http_response_header_section_size";
    case ProxyErrc::http_response_timeout: return "http_response_timeout";
    case ProxyErrc::http_upgrade_failed: return "http_upgrade_failed";
    case ProxyErrc::http_protocol_error: return "http_protocol_error";
    case ProxyErrc::proxy_internal_error: return "proxy_internal_error";
    case ProxyErrc::proxy_configuration_error: return "proxy_configuration_error";
    case ProxyErrc::proxy_loop_detected: return "proxy_loop_detected";
  }
  return "proxy_internal_error";
}

int default_status(ProxyErrc e) {
  switch (e) {
    case ProxyErrc::destination_ip_prohibited:
    case ProxyErrc::http_request_denied: return 403;
    case ProxyErrc::http_request_error: return 400;
    case ProxyErrc::connection_limit_reached: return 503;
    case ProxyErrc::dns_timeout:
    case ProxyErrc::connection_timeout:
    case ProxyErrc::connection_read_timeout:
    case ProxyErrc::http_response_timeout: return 504;
    case ProxyErrc::proxy_internal_error:
    case ProxyErrc::proxy_configuration_error: return 500;
    default: return 502;
  }
}

}  // namespace ferry
