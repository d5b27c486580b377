#include "http/message_framing.h"

#include <charconv>

#include "base/host_port.h"
#include "http/head_parser.h"

namespace ferry::http {

std::vector<std::string_view> split_list(std::string_view value) {
  std::vector<std::string_view> out;
  while (!value.empty()) {
    auto comma = value.find(',');
    auto item = value.substr(0, comma);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
    if (!item.empty()) out.push_back(item);
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return out;
}

namespace {

bool parse_decimal(std::string_view s, uint64_t& out) {
  if (s.empty() || s.size() > 18) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  std::from_chars(s.data(), s.data() + s.size(), out);
  return true;
}

void add_connection_tokens(std::string_view value, ConnectionOptions& opts) {
  for (auto item : split_list(value)) {
    std::string t = to_lower(item);
    if (t == "close") opts.close = true;
    else if (t == "keep-alive") opts.keep_alive = true;
    else if (t == "upgrade") opts.upgrade = true;
    opts.tokens.push_back(std::move(t));
  }
}

}  // namespace

Expected<RequestInfo> analyze_request(const RequestHead& head) {
  RequestInfo info;
  int cl_count = 0, te_count = 0, host_count = 0;
  std::string_view cl_value, te_value;
  ConnectionOptions proxy_connection;
  int max_forwards_count = 0;
  for (const auto& f : head.fields) {
    if (iequals(f.name, "content-length")) {
      ++cl_count;
      cl_value = f.value;
    } else if (iequals(f.name, "transfer-encoding")) {
      ++te_count;
      te_value = f.value;
    } else if (iequals(f.name, "host")) {
      ++host_count;
    } else if (iequals(f.name, "max-forwards")) {
      // Only one valid value is acted on; anything else passes unchanged.
      uint64_t v = 0;
      if (++max_forwards_count == 1 && parse_decimal(f.value, v)) info.max_forwards = v;
      else info.max_forwards.reset();
    } else if (iequals(f.name, "connection")) {
      add_connection_tokens(f.value, info.connection);
    } else if (iequals(f.name, "proxy-connection")) {
      add_connection_tokens(f.value, proxy_connection);
    } else if (iequals(f.name, "expect")) {
      if (iequals(f.value, "100-continue")) info.expect_continue = true;
    } else if (iequals(f.name, "upgrade")) {
      for (auto item : split_list(f.value)) {
        if (iequals(item, "h2c")) continue;
        if (!info.upgrade_protocol.empty()) info.upgrade_protocol += ", ";
        info.upgrade_protocol += item;
      }
    }
  }
  info.has_host = host_count > 0;
  if (host_count > 1) return fail("more than one Host header");
  if (te_count && cl_count) return fail("both Transfer-Encoding and Content-Length");
  if (cl_count > 1) return fail("duplicate Content-Length");
  if (te_count > 1) return fail("duplicate Transfer-Encoding");
  // A CONNECT has no content (RFC 9110 §9.3.6): bytes after its head belong
  // to the tunnel, so a body length would make them mean two things.
  // "Content-Length: 0" is unambiguous and tolerated (Envoy does the same).
  if (head.method == "CONNECT" && te_count) return fail("Transfer-Encoding in a CONNECT request");
  if (te_count) {
    if (head.version_minor == 0) return fail("Transfer-Encoding in an HTTP/1.0 request");
    if (!iequals(te_value, "chunked")) return fail("unsupported Transfer-Encoding (only chunked is accepted)");
    info.body = BodyKind::chunked;
  } else if (cl_count) {
    if (!parse_decimal(cl_value, info.content_length)) return fail("malformed Content-Length");
    if (head.method == "CONNECT" && info.content_length) return fail("Content-Length in a CONNECT request");
    info.body = info.content_length ? BodyKind::content_length : BodyKind::none;
    info.zero_length = !info.content_length;
  }
  if (!info.expect_continue || info.body == BodyKind::none) info.expect_continue = false;

  const bool close = info.connection.close || proxy_connection.close;
  const bool ka = info.connection.keep_alive || proxy_connection.keep_alive;
  info.keep_alive = head.version_minor >= 1 ? !close : (ka && !close);
  info.upgrade = info.connection.upgrade && !info.upgrade_protocol.empty();
  return info;
}

Expected<bool> check_request_rules(const RequestHead& head, const RequestInfo& info) {
  if (head.version_minor >= 1 && !info.has_host) return fail("HTTP/1.1 request without Host");
  return true;
}

Expected<ResponseInfo> analyze_response(const ResponseHead& head, std::string_view request_method) {
  ResponseInfo info;
  bool have_cl = false, have_te = false, cl_conflict = false;
  uint64_t cl = 0;
  std::string_view last_coding;
  for (const auto& f : head.fields) {
    if (iequals(f.name, "content-length")) {
      // Identical repeats ("5, 5" or two equal fields) are tolerated in
      // responses (RFC 9110 §8.6); anything else is an error.
      auto items = split_list(f.value);
      if (items.empty()) return fail("malformed Content-Length in response");
      for (auto item : items) {
        uint64_t v = 0;
        if (!parse_decimal(item, v)) return fail("malformed Content-Length in response");
        if (have_cl && v != cl) cl_conflict = true;
        cl = v;
        have_cl = true;
      }
    } else if (iequals(f.name, "transfer-encoding")) {
      auto items = split_list(f.value);
      if (items.empty()) return fail("empty Transfer-Encoding in response");
      for (auto item : items)
        if (!is_token(item)) return fail("malformed Transfer-Encoding in response");

      have_te = true;
      last_coding = items.back();
      for (auto item : items) {
        if (!info.other_codings.empty()) info.other_codings += ", ";
        info.other_codings += item;
      }
    } else if (iequals(f.name, "connection")) {
      add_connection_tokens(f.value, info.connection);
    }
  }
  if (cl_conflict) return fail("conflicting Content-Length in response");
  if (have_te && have_cl) return fail("both Transfer-Encoding and Content-Length in response");
  info.keep_alive =
      head.version_minor >= 1 ? !info.connection.close : (info.connection.keep_alive && !info.connection.close);
  // Transfer-Encoding in an HTTP/1.0 message is faulty framing: the body is
  // read as the message says, then the connection is closed, because the
  // sender may have meant something else by the bytes (RFC 9112 §6.1).
  if (have_te && head.version_minor == 0) info.keep_alive = false;

  const int s = head.status;
  if (request_method == "HEAD" || (s >= 100 && s < 200) || s == 204 || s == 304) {
    info.body = BodyKind::none;
    info.other_codings.clear();
    return info;
  }
  if (have_te) {
    if (iequals(last_coding, "chunked")) {
      // Keep every coding but the final chunked, which ferry decodes.
      auto cut = info.other_codings.rfind(", ");
      info.other_codings = cut == std::string::npos ? std::string() : info.other_codings.substr(0, cut);
      info.body = BodyKind::chunked;
    } else {
      info.body = BodyKind::until_close;
      info.keep_alive = false;
    }
  } else if (have_cl) {
    info.content_length = cl;
    info.body = cl ? BodyKind::content_length : BodyKind::none;
  } else {
    info.body = BodyKind::until_close;
    info.keep_alive = false;
  }
  return info;
}

}  // namespace ferry::http
