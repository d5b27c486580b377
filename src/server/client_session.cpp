#include "server/client_session.h"

#include "aws/ecs_endpoint.h"
#include "http/header_rewrite.h"

#include "server/client_identity.h"

#include <algorithm>

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <chrono>

#include "http/error_response.h"
#include "http/head_parser.h"
#include "http/head_reader.h"
#include "http/message_framing.h"
#include "http/request_target.h"
#include "server/connect_handler.h"
#include "server/http_forwarder.h"
#include "server/intercepted_tunnel.h"
#include "server/lingering_close.h"

namespace ferry {

using namespace asio::experimental::awaitable_operators;

awaitable<void> ClientConnection::send_own(const std::string& response) {
  deadline.arm(config().header_timeout, [this] { client.cancel(); });
  error_code ec;
  co_await client.write(asio::buffer(response), ec);
  deadline.disarm();
}

awaitable<void> ClientConnection::send_error(const ProxyError& err, bool close, std::string_view method) {
  const std::string response = http::make_error_response(err, ctx.via_1_1, close, method);
  co_await send_own(response);
}

awaitable<RequestOutcome> answer_error(ClientConnection& conn, ProxyError err, bool keep_alive,
                                       std::string_view method) {
  RequestOutcome out;
  out.status = err.http_status();
  out.error = std::string(proxy_errc_name(err.type));
  out.detail = err.details;
  out.keep_alive = keep_alive;
  co_await conn.send_error(err, !keep_alive, method);
  co_return out;
}

void Worker::close_idle_sessions() {
  for (auto* c : sessions_)
    if (c->idle) c->client.cancel();
}

void Worker::close_sessions_of(const std::string& client_id) {
  for (auto* c : sessions_)
    if (c->who.client_id == client_id) c->client.cancel();
  for (const auto& t : raw_)
    if (*t.client_id == client_id) t.client->cancel();
}

namespace {

using Clock = std::chrono::steady_clock;

struct LoggedRequest {
  std::string method;
  std::string target;
  Clock::time_point start = Clock::now();
  uint64_t in_before = 0, out_before = 0;
};

void log_request(ClientConnection& conn, const LoggedRequest& req, const RequestOutcome& out) {
  auto& log = conn.ctx.log;
  const bool failed = !out.error.empty();
  const LogLevel level = failed ? LogLevel::warn : LogLevel::info;
  if (!log.enabled(level)) return;
  const double ms = std::chrono::duration<double, std::milli>(Clock::now() - req.start).count();
  const bool tunnel = req.method == "CONNECT";
  log.log(level, tunnel ? "tunnel" : "request",
          {{"client", conn.peer},
           {"method", req.method},
           {"target", req.target},
           {"route", out.route},
           {"status", out.status},
           {"bytes_from_client", conn.client.bytes_in - req.in_before},
           {"bytes_to_client", conn.client.bytes_out - req.out_before},
           {"duration_ms", ms},
           {"error", out.error},
           {"details", out.detail},
           {"injected", out.injected},
           {"client_id", conn.who.client_id}});
}

// Answers a request ferry refuses before dispatch; the connection closes.
// The error is moved into a named local first: GCC 12 can destroy
// temporaries inside a co_await expression twice.
awaitable<RequestOutcome> refuse(ClientConnection& conn, ProxyError err, std::string_view method) {
  ProxyError local = std::move(err);
  RequestOutcome out = co_await answer_error(conn, std::move(local), false, method);
  co_return out;
}

// Whether the connection can carry another request after ferry answered this
// one itself: only if its framing is known and it has no body to skip.
bool usable_after_own_answer(const ClientConnection& conn, const http::RequestInfo& info) {
  return info.keep_alive && info.body == http::BodyKind::none && !conn.ctx.draining.load(std::memory_order_relaxed);
}

// Plain-HTTP requests to a host with inject rules get them without TLS
// (SPEC §7). They match by host: a rule's port (443 by default) names
// where its tunnels go, and the same API's http:// URL would otherwise
// never match. (https:// absolute-form URLs match host and port.)
InjectRules rules_for(const InjectRules& all, const http::AbsoluteTarget& target) {
  if (all.empty()) return {};
  if (target.tls) return matching_rules(all, target.authority.host, target.authority.port);
  InjectRules out;
  for (const auto& r : all)
    if (r->host.matches(target.authority.host)) out.push_back(r);
  return out;
}

InjectRules plain_http_rules(const ClientConnection& conn, const http::AbsoluteTarget& target) {
  return rules_for(conn.inject_rules(), target);
}

// A relay is the operator's route (an [[mcp]] server's credential is a
// global rule): the target's global rules apply to every client, after the
// rules of the client's profile.
InjectRules relay_rules(const ClientConnection& conn, const http::AbsoluteTarget& target) {
  InjectRules rules = plain_http_rules(conn, target);
  if (!conn.who.profile) return rules;
  for (auto& r : rules_for(conn.config().inject, target))
    if (std::find(rules.begin(), rules.end(), r) == rules.end()) rules.push_back(std::move(r));
  return rules;
}

}  // namespace

awaitable<RequestOutcome> decline(ClientConnection& conn, const http::RequestHead& head, const http::RequestInfo& info,
                                  ProxyError err, std::string_view method) {
  ProxyError local = std::move(err);
  const bool keep_alive = usable_after_own_answer(conn, info);
  conn.buf.consume(head.size);
  RequestOutcome out = co_await answer_error(conn, std::move(local), keep_alive, method);
  co_return out;
}

namespace {

// "OPTIONS ... Max-Forwards: 0" is addressed to ferry itself (RFC 9110 §7.6.2).
awaitable<RequestOutcome> answer_options(ClientConnection& conn, const http::RequestHead& head,
                                         const http::RequestInfo& info) {
  RequestOutcome out;
  out.status = 200;
  out.keep_alive = usable_after_own_answer(conn, info);
  conn.buf.consume(head.size);
  const std::string response = http::make_options_response(conn.ctx.via_1_1, !out.keep_alive);
  co_await conn.send_own(response);
  co_return out;
}

// GET /_ferry/aws/credentials (SPEC §7 "AWS"): the token in Authorization
// selects the profile whose role is served in the ECS container format.
awaitable<RequestOutcome> answer_aws_credentials(ClientConnection& conn, const http::RequestHead& head,
                                                 const http::RequestInfo& info) {
  RequestOutcome out;
  out.keep_alive = usable_after_own_answer(conn, info);
  std::optional<Secret> authorization;
  for (const auto& f : head.fields)
    if (iequals(f.name, "Authorization")) authorization = Secret(std::string(f.value));
  const bool get = head.method == "GET";
  conn.buf.consume(head.size);
  // The token is this request's identity: its profile's route and policy
  // carry the STS call, and the log names its owner (conn.who holds the
  // profile, and so the role, for the whole exchange).
  conn.who.clear();
  if (authorization) (void)identify_client_token(conn.who, conn.ctx, *conn.snapshot, conn.scope, &*authorization);
  const aws::EcsRoleLookup lookup = [&conn](std::string_view) -> aws::RoleCredentials* {
    return conn.who.profile ? conn.who.profile->aws.get() : nullptr;
  };
  std::optional<std::string_view> presented;
  if (authorization) presented = authorization->view();
  aws::EcsResponse r = aws::ecs_error(405, "use GET");
  if (get)
    r = co_await aws::aws_credentials_for(presented, lookup, conn.upstream(), conn.who.resolver(*conn.snapshot),
                                          Millis(30'000));
  out.status = r.status;
  std::string response = "HTTP/1.1 " + std::to_string(r.status) + " " + std::string(http::reason_phrase(r.status)) +
                         "\r\nContent-Type: application/json\r\nCache-Control: no-store\r\nContent-Length: " +
                         std::to_string(r.body.size()) + "\r\n" + (out.keep_alive ? "" : "Connection: close\r\n") +
                         "\r\n" + r.body;
  co_await conn.send_own(response);
  cleanse_string(response);
  co_return out;
}

awaitable<void> serve(ClientConnection& conn) {
  ServerContext& ctx = conn.ctx;
  for (;;) {
    if (ctx.draining.load(std::memory_order_relaxed)) co_return;
    if (!conn.intercept) conn.refresh_snapshot(conn.worker.snapshot());
    conn.idle = true;
    conn.buf.shrink_if_empty();
    LoggedRequest req;
    req.in_before = conn.client.bytes_in;
    req.out_before = conn.client.bytes_out;
    conn.deadline.arm(conn.config().header_timeout, [&conn] { conn.client.cancel(); });
    auto hr = co_await read_head(conn.client, conn.buf);
    conn.deadline.disarm();
    conn.idle = false;
    req.start = Clock::now();
    if (hr.status != HeadRead::Status::complete) {
      if (hr.status == HeadRead::Status::bad_head) {
        req.method = "-";
        req.target = "-";
        ProxyError refusal{ProxyErrc::http_request_error, "malformed request: " + std::string(hr.error)};
        auto out = co_await refuse(conn, std::move(refusal), {});
        log_request(conn, req, out);
      } else if (conn.deadline.expired() && !conn.buf.empty()) {
        req.method = "-";
        req.target = "-";
        ProxyError refusal{ProxyErrc::http_request_error,
                           "no complete request header within " + format_duration(conn.config().header_timeout), 408};
        auto out = co_await refuse(conn, std::move(refusal), {});
        log_request(conn, req, out);
      } else if (conn.deadline.expired() && conn.requests == 0) {
        // Connected but never sent anything: answer 408 like Squid does.
        auto err = ProxyError{ProxyErrc::http_request_error,
                              "no request within " + format_duration(conn.config().header_timeout), 408};
        co_await conn.send_error(err, true, {});
      }
      // Unless the client ended it (EOF, reset), input may be on its way.
      conn.linger = hr.status == HeadRead::Status::bad_head || conn.deadline.expired();
      co_return;  // clean close between requests, a reset, or shutdown
    }

    http::RequestHead head;
    auto parsed = http::parse_request_head(conn.buf.data().substr(0, hr.head_size), head);
    req.method = std::string(head.method.empty() ? "-" : head.method);
    req.target = head.target.empty() ? "-" : http::loggable_target(head.target);
    // Inside an intercepted tunnel the log names the origin, not just a path.
    if (conn.intercept && !head.target.empty() && head.target.front() == '/')
      req.target = "https://" + conn.intercept->origin.to_string() + req.target;
    if (parsed.state != http::ParseState::complete) {
      ProxyError refusal{ProxyErrc::http_request_error, "malformed request: " + std::string(parsed.error)};
      auto out = co_await refuse(conn, std::move(refusal), req.method);
      log_request(conn, req, out);
      conn.linger = true;
      co_return;
    }
    ++conn.requests;

    RequestOutcome out;
    // Who is asking (a tunnel's requests are its CONNECT's client).
    std::optional<ProxyError> unidentified;
    const bool aws_endpoint = !conn.intercept && head.target == aws::kEcsCredentialsPath;
    if (!conn.intercept && !aws_endpoint) unidentified = identify_client(conn, head);
    auto info = http::analyze_request(head);
    auto rules = info ? http::check_request_rules(head, *info) : Expected<bool>(true);
    if (!info || !rules) {
      // Framing unknown (or a request too broken to trust): answer and close.
      ProxyError refusal{ProxyErrc::http_request_error, "malformed request: " + (info ? rules.error() : info.error())};
      out = co_await refuse(conn, std::move(refusal), req.method);
    } else if (aws_endpoint) {
      out = co_await answer_aws_credentials(conn, head, *info);
    } else if (unidentified) {
      ProxyError refusal = std::move(*unidentified);
      out = co_await decline(conn, head, *info, std::move(refusal), req.method);
    } else if (ctx.via.seen_in(head.fields)) {
      ProxyError refusal{ProxyErrc::proxy_loop_detected,
                         "request already passed through this ferry (" + ctx.via.received_by() + ")"};
      out = co_await decline(conn, head, *info, std::move(refusal), req.method);
    } else if (head.method == "TRACE") {
      // ferry never forwards TRACE (403, as a policy refusal: 405 would claim
      // to know what the target resource allows). A TRACE that an upstream
      // proxy answers itself would echo the Proxy-Authorization ferry adds
      // (a Basic password, a Negotiate token) back to the client.
      ProxyError refusal{ProxyErrc::http_request_denied, "ferry does not forward TRACE requests"};
      out = co_await decline(conn, head, *info, std::move(refusal), req.method);
    } else if (head.method == "OPTIONS" && info->max_forwards == 0u) {
      out = co_await answer_options(conn, head, *info);
    } else if (conn.intercept) {
      out = co_await handle_intercepted_request(conn, head, *info);
    } else if (head.method == "CONNECT") {
      out = co_await handle_connect(conn, head);
    } else if (auto relayed = relay_target(conn.config().relays, head.target)) {
      // Addressed to ferry itself: a relay to its target, with the target
      // host's inject rules (an operator's route: the policy does not apply).
      if (!*relayed) {
        ProxyError refusal = relayed->error();
        out = co_await decline(conn, head, *info, std::move(refusal), req.method);
      } else if (auto target_rules = relay_rules(conn, **relayed); !target_rules.empty()) {
        out = co_await forward_injected(conn, head, *info, **relayed, target_rules);
      } else {
        out = co_await forward_http(conn, head, *info, **relayed);
      }
    } else if (auto target = http::parse_absolute_target(head.target); !target) {
      ProxyError refusal{ProxyErrc::http_request_error, target.error()};
      out = co_await decline(conn, head, *info, std::move(refusal), req.method);
    } else if (auto denied = policy_refusal(conn, target->authority)) {
      ProxyError refusal = std::move(*denied);
      out = co_await decline(conn, head, *info, std::move(refusal), req.method);
    } else if (auto rules = plain_http_rules(conn, *target); !rules.empty()) {
      out = co_await forward_injected(conn, head, *info, *target, rules);
    } else {
      out = co_await forward_http(conn, head, *info, *target);
    }
    log_request(conn, req, out);
    if (!out.keep_alive) {
      conn.linger = true;
      co_return;
    }
  }
}

}  // namespace

awaitable<void> serve_connection(ClientConnection& conn) {
  try {
    co_await serve(conn);
  } catch (const std::exception& e) {
    // Untrusted input must never take the process down; report and drop
    // just this connection.
    conn.ctx.log.log(LogLevel::error, "session_error", {{"client", conn.peer}, {"what", e.what()}});
  }
}

awaitable<void> run_client_session(Worker& worker, tcp::socket socket) {
  ServerContext& ctx = worker.ctx();
  error_code ec;
  auto ep = socket.remote_endpoint(ec);
  std::string peer = ec ? "-"
                        : (ep.address().is_v6() ? "[" + ep.address().to_string() + "]" : ep.address().to_string()) +
                              ":" + std::to_string(ep.port());
  socket.set_option(tcp::no_delay(true), ec);
  {
    TcpStream tcp(std::move(socket));
    ClientConnection conn(worker, ctx, worker.snapshot(), tcp, std::move(peer), ServerContext::scope_of(tcp.socket()));
    // Heads may carry a client token: consumed bytes are wiped.
    if (ctx.client_tokens) conn.buf.set_wipe_on_consume(true);
    auto tracked = worker.track(&conn);
    co_await (serve_connection(conn) || conn.deadline.watch());
    worker.untrack(tracked);
    if (conn.linger) co_await lingering_close(tcp.socket(), kClientLinger);
    tcp.close();
  }
  ctx.connections.fetch_sub(1, std::memory_order_relaxed);
}

}  // namespace ferry
