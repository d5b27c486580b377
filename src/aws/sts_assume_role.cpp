#include "aws/sts_assume_role.h"

#include "aws/aws_time.h"
#include "aws/sigv4.h"
#include "aws/xml_extract.h"
#include "http/request_target.h"

namespace ferry::aws {

namespace {

// STS's words, cut short and printable (they go into a log line).
std::string printable(std::string_view s, size_t max = 300) {
  std::string out;
  for (char c : s.substr(0, max)) out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? ' ' : c;
  if (s.size() > max) out += "…";
  return out;
}

std::string trimmed(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\n' || s.front() == '\r' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\n' || s.back() == '\r' || s.back() == '\t'))
    s.remove_suffix(1);
  return std::string(s);
}

std::vector<std::pair<std::string, std::string>> form(const AssumeRoleParams& p) {
  std::vector<std::pair<std::string, std::string>> f = {{"Action", "AssumeRole"},
                                                        {"Version", "2011-06-15"},
                                                        {"RoleArn", p.role_arn},
                                                        {"RoleSessionName", p.session_name},
                                                        {"DurationSeconds", std::to_string(p.duration.count())}};
  if (!p.external_id.empty()) f.emplace_back("ExternalId", p.external_id);
  return f;
}

}  // namespace

std::string sts_url(const AssumeRoleParams& p) {
  if (!p.sts_endpoint.empty()) return p.sts_endpoint;
  return "https://sts." + p.region + ".amazonaws.com/";
}

std::string assume_role_body(const AssumeRoleParams& p) {
  std::string body;
  for (const auto& [k, v] : form(p)) {
    if (!body.empty()) body += '&';
    body += uri_encode(k, true) + '=' + uri_encode(v, true);
  }
  return body;
}

Expected<HttpRequest> assume_role_request(const AssumeRoleParams& p, const AwsCredentials& base, SystemTime now) {
  HttpRequest req;
  req.method = "POST";
  req.url = sts_url(p);
  auto target = http::parse_absolute_target(req.url);
  if (!target) return fail("bad STS endpoint " + http::loggable_target(req.url) + ": " + target.error());
  if (target->origin_form.find('?') != std::string::npos) return fail("the STS endpoint must not have a query");
  req.body = assume_role_body(p);
  req.headers = {{"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"}};

  const std::string host = target->host_header();
  SigningRequest s;
  s.method = req.method;
  s.host = host;
  s.path = target->origin_form;
  s.headers = req.headers;
  s.payload = req.body;
  for (auto& field : sigv4_sign(s, {p.region, "sts"}, base, now)) req.headers.push_back(std::move(field));
  return req;
}

Expected<AwsCredentials> parse_assume_role_response(int status, std::string_view body) {
  auto doc = parse_xml(body);
  if (status != 200) {
    std::string what = "STS answered " + std::to_string(status);
    if (doc) {
      // <ErrorResponse><Error><Code>…</Code><Message>…</Message></Error></ErrorResponse>
      const XmlElement* err = doc->name == "Error" ? &*doc : doc->find("Error");
      if (err) {
        if (const auto* code = err->child("Code")) what += " " + printable(trimmed(code->text), 100);
        if (const auto* msg = err->child("Message")) what += ": " + printable(trimmed(msg->text));
      }
    }
    return fail(what);
  }
  if (!doc) return fail("STS answered 200 with malformed XML: " + doc.error());
  struct WipeOnExit {
    XmlElement& e;
    ~WipeOnExit() { wipe(e); }
  } wipe_doc{*doc};
  if (doc->name != "AssumeRoleResponse") return fail("STS answered 200 with <" + printable(doc->name, 64) + ">");
  const XmlElement* c = doc->find("AssumeRoleResult/Credentials");
  if (!c) return fail("STS answered 200 without AssumeRoleResult/Credentials");
  const XmlElement* id = c->child("AccessKeyId");
  const XmlElement* secret = c->child("SecretAccessKey");
  const XmlElement* token = c->child("SessionToken");
  const XmlElement* expiration = c->child("Expiration");
  if (!id || !secret || !token || !expiration)
    return fail("STS answered 200 without AccessKeyId, SecretAccessKey, SessionToken and Expiration");
  AwsCredentials out;
  out.access_key_id = trimmed(id->text);
  out.secret_access_key = Secret(trimmed(secret->text));
  out.session_token = Secret(trimmed(token->text));
  if (out.access_key_id.empty() || out.secret_access_key.empty() || out.session_token.empty())
    return fail("STS answered 200 with empty credentials");
  auto when = parse_iso8601(trimmed(expiration->text));
  if (!when) return fail("STS answered 200 with a bad Expiration: " + when.error());
  out.expiration = *when;
  return out;
}

awaitable<Expected<AwsCredentials, ProxyError>> sts_assume_role(const UpstreamContext& ctx, ProxyResolver& resolver,
                                                                const AssumeRoleParams& params,
                                                                const AwsCredentials& base, Millis timeout) {
  const std::string role = "AssumeRole of " + params.role_arn;
  auto req = assume_role_request(params, base, std::chrono::system_clock::now());
  if (!req) co_return Unexpected{ProxyError{ProxyErrc::proxy_configuration_error, role + ": " + req.error()}};
  auto resp = co_await https_fetch(ctx, resolver, *req, timeout);
  if (!resp) {
    ProxyError e = resp.error();
    e.details = role + " failed: " + e.details;
    co_return Unexpected{std::move(e)};
  }
  auto creds = parse_assume_role_response(resp->status, resp->body);
  cleanse_string(resp->body);
  if (!creds) co_return Unexpected{ProxyError{ProxyErrc::http_request_denied, role + ": " + creds.error(), 502}};
  co_return std::move(*creds);
}

}  // namespace ferry::aws
