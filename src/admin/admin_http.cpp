#include "admin/admin_http.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <array>

#include "base/host_port.h"

namespace ferry {

namespace {

using Digest = std::array<unsigned char, 32>;

Digest sha256(std::string_view data) {
  Digest out{};
  unsigned int size = 0;
  EVP_Digest(data.data(), data.size(), out.data(), &size, EVP_sha256(), nullptr);
  return out;
}

}  // namespace

const char* status_reason(int status) {
  switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Status";
  }
}

std::string format_admin_response(const ControlResponse& r, bool head_only, bool close) {
  std::string out;
  out.reserve(256 + (head_only ? 0 : r.body.size()));
  out.append("HTTP/1.1 ").append(std::to_string(r.status)).append(" ").append(status_reason(r.status)).append("\r\n");
  if (r.status != 204) {
    out.append("Content-Type: ").append(r.content_type).append("\r\n");
    out.append("Content-Length: ").append(std::to_string(r.body.size())).append("\r\n");
  }
  for (const auto& [name, value] : r.headers) out.append(name).append(": ").append(value).append("\r\n");
  out.append("Cache-Control: no-store\r\n");
  if (close) out.append("Connection: close\r\n");
  out.append("\r\n");
  if (!head_only && r.status != 204) out.append(r.body);
  return out;
}

bool bearer_matches(const std::vector<http::HeaderField>& fields, const Secret& token) {
  const http::HeaderField* found = nullptr;
  for (const auto& f : fields) {
    if (!iequals(f.name, "Authorization")) continue;
    if (found) return false;  // two: ambiguous
    found = &f;
  }
  constexpr std::string_view scheme = "Bearer ";
  if (!found || token.empty() || found->value.size() < scheme.size() ||
      !iequals(found->value.substr(0, scheme.size()), scheme))
    return false;
  std::string_view presented = found->value.substr(scheme.size());
  while (!presented.empty() && presented.front() == ' ') presented.remove_prefix(1);
  const Digest a = sha256(presented), b = sha256(token.view());
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace ferry
