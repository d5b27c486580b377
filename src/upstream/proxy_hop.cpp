#include "upstream/proxy_hop.h"

#include <openssl/crypto.h>

#include <boost/asio/experimental/awaitable_operators.hpp>

#include "auth/proxy_authorization.h"
#include "http/head_parser.h"
#include "http/head_reader.h"
#include "http/message_framing.h"
#include "upstream/proxy_auth_exchange.h"
#include "upstream/socks5_codec.h"

namespace ferry {

using namespace asio::experimental::awaitable_operators;

namespace {

// Bounds every step of a handshake: a proxy that accepts the connection and
// then says nothing must not hold a client forever.
awaitable<bool> timed_write(ByteStream& s, std::string_view bytes, Millis timeout, error_code& ec) {
  asio::steady_timer timer(co_await asio::this_coro::executor, timeout);
  auto r = co_await (s.write(asio::buffer(bytes.data(), bytes.size()), ec) || timer.async_wait(nothrow_awaitable));
  co_return r.index() == 0;
}

awaitable<std::optional<HeadRead>> timed_read_head(ByteStream& s, ReadBuffer& buf, Millis timeout) {
  asio::steady_timer timer(co_await asio::this_coro::executor, timeout);
  auto r = co_await (read_head(s, buf) || timer.async_wait(nothrow_awaitable));
  if (r.index() == 1) co_return std::nullopt;
  co_return std::get<0>(r);
}

// Reads until `buf` holds at least `n` bytes; false on EOF, error or timeout.
awaitable<bool> timed_read_at_least(ByteStream& s, ReadBuffer& buf, size_t n, Millis timeout) {
  asio::steady_timer timer(co_await asio::this_coro::executor, timeout);
  bool ok = true;
  auto fill = [&]() -> awaitable<void> {
    while (buf.size() < n) {
      error_code ec;
      co_await buf.read_from(s, ec, 64 * 1024);
      if (ec) {
        ok = false;
        co_return;
      }
    }
  };
  auto r = co_await (fill() || timer.async_wait(nothrow_awaitable));
  co_return r.index() == 0 && ok;
}

HopFailure unreachable(ProxyError e) { return HopFailure{std::move(e), true}; }
HopFailure refused(ProxyError e) { return HopFailure{std::move(e), false}; }

// The proxy's refusal of a CONNECT, as ferry's own 502 (SPEC §3: not a
// reason to fail over). Its status and reason are quoted; its body is not.
ProxyError connect_refusal(const ProxyUrl& proxy, const HostPort& target, const http::ResponseHead& resp) {
  std::string what = "upstream proxy " + proxy.to_redacted_string() + " refused CONNECT to " + target.to_string() +
                     ": " + std::to_string(resp.status);
  if (!resp.reason.empty()) what += " " + std::string(resp.reason.substr(0, 80));
  ProxyErrc type = (resp.status == 403) ? ProxyErrc::http_request_denied : ProxyErrc::destination_unavailable;
  // A loop found further along is still a loop: say so to the client.
  for (const auto& f : resp.fields)
    if (iequals(f.name, "Proxy-Status") && f.value.find("error=proxy_loop_detected") != std::string_view::npos)
      type = ProxyErrc::proxy_loop_detected;
  return ProxyError{type, std::move(what), 502};
}

}  // namespace

std::string forwarded_via_lines(const std::vector<http::HeaderField>& fields) {
  std::string lines;
  for (const auto& f : fields)
    if (iequals(f.name, "Via")) lines += "Via: " + std::string(f.value) + "\r\n";
  return lines;
}

std::vector<std::string> proxy_authenticate_values(const http::ResponseHead& resp) {
  std::vector<std::string> values;
  for (const auto& f : resp.fields)
    if (iequals(f.name, "Proxy-Authenticate")) values.emplace_back(f.value);
  return values;
}

awaitable<bool> skip_small_body(ByteStream& s, ReadBuffer& buf, const http::ResponseInfo& info, Millis timeout) {
  if (!info.keep_alive) co_return false;
  // Bytes after a bodiless answer are a framing fault: not a connection to reuse.
  if (info.body == http::BodyKind::none) co_return buf.empty();
  if (info.body != http::BodyKind::content_length || info.content_length > 64 * 1024) co_return false;
  const bool complete = co_await timed_read_at_least(s, buf, size_t(info.content_length), timeout);
  if (!complete) co_return false;
  buf.consume(size_t(info.content_length));
  co_return buf.empty();
}

awaitable<Expected<ByteStreamPtr, HopFailure>> connect_to_proxy(const UpstreamContext& ctx, const ProxyUrl& proxy) {
  // A configured upstream is the operator's choice: the remote-client
  // destination policy is for targets, not for it (a local cntlm stays usable).
  const Destinations to_proxy{ctx.destinations.resolver, ctx.destinations.filter};
  auto sock = co_await connect_tcp(proxy.address, ctx.connect_timeout, to_proxy);
  if (!sock) {
    ProxyError e = sock.error();
    e.details = "upstream proxy " + proxy.to_redacted_string() + ": " + e.details;
    co_return Unexpected{unreachable(std::move(e))};
  }
  if (proxy.scheme != ProxyScheme::https) co_return ByteStreamPtr(std::make_unique<TcpStream>(std::move(*sock)));
  auto secured = co_await tls_connect(std::move(*sock), ctx.proxy_tls, proxy.address.host, ctx.connect_timeout);
  if (!secured) {
    ProxyError e = secured.error();
    e.details = "upstream proxy " + proxy.to_redacted_string() + ": " + e.details;
    co_return Unexpected{unreachable(std::move(e))};
  }
  co_return std::move(*secured);
}

awaitable<Expected<Tunnel, HopFailure>> http_connect_tunnel(const UpstreamContext& ctx, const ProxyUrl& proxy,
                                                            const HostPort& target, bool client_speaks_first,
                                                            std::string_view forwarded_via) {
  const std::string authority = target.to_string();
  const std::string name = proxy.to_redacted_string();
  ProxyAuthExchange auth(ctx.blocking, ctx.auth.find(proxy), auth::DigestRequest{"CONNECT", authority}, proxy);

  ByteStreamPtr conn;
  ReadBuffer buf(4096);
  for (;;) {
    if (!conn) {
      auto opened = co_await connect_to_proxy(ctx, proxy);
      if (!opened) co_return Unexpected{opened.error()};
      conn = std::move(*opened);
      buf.consume(buf.size());
    }
    std::optional<ProxyError> no_token = co_await auth.begin_try(*conn);
    if (no_token) co_return Unexpected{refused(std::move(*no_token))};
    std::string request = "CONNECT " + authority + " HTTP/1.1\r\nHost: " + authority + "\r\n";
    request += forwarded_via;  // with ours below, a CONNECT loop comes back recognisable (SPEC §4)
    if (!ctx.via.empty()) request += "Via: " + ctx.via + "\r\n";
    request += "\r\n";
    auth.add_credentials(request);
    error_code ec;
    const bool in_time = co_await timed_write(*conn, request, ctx.connect_timeout, ec);
    // The request held the credentials: wipe it now.
    auth::cleanse_string(request);
    if (!in_time || ec)
      co_return Unexpected{
          unreachable({ProxyErrc::connection_terminated, "upstream proxy " + name + ": sending CONNECT failed"})};

    auto head = co_await timed_read_head(*conn, buf, ctx.connect_timeout);
    if (!head)
      co_return Unexpected{
          unreachable({ProxyErrc::connection_timeout, "upstream proxy " + name + " did not answer CONNECT within " +
                                                          format_duration(ctx.connect_timeout)})};
    if (head->status == HeadRead::Status::bad_head)
      co_return Unexpected{
          refused({ProxyErrc::http_protocol_error,
                   "upstream proxy " + name + " sent a malformed reply to CONNECT: " + std::string(head->error)})};
    if (head->status != HeadRead::Status::complete)
      co_return Unexpected{
          unreachable({ProxyErrc::connection_terminated,
                       "upstream proxy " + name + " closed the connection without answering CONNECT"})};
    http::ResponseHead resp;
    auto parsed = http::parse_response_head(buf.data().substr(0, head->head_size), resp);
    if (parsed.state != http::ParseState::complete)
      co_return Unexpected{
          refused({ProxyErrc::http_protocol_error,
                   "upstream proxy " + name + " sent a malformed reply to CONNECT: " + std::string(parsed.error)})};

    if (resp.status >= 200 && resp.status < 300) {
      std::optional<ProxyError> bad = co_await auth.on_accepted(resp, *conn);
      if (bad) co_return Unexpected{refused(std::move(*bad))};
      buf.consume(head->head_size);
      Tunnel t;
      t.early_bytes = std::string(buf.data());
      if (client_speaks_first && !t.early_bytes.empty())
        co_return Unexpected{refused({ProxyErrc::http_protocol_error,
                                      "upstream proxy " + name + " sent bytes after its 200 before the client spoke"})};
      t.stream = std::move(conn);
      co_return std::move(t);
    }
    if (resp.status != 407) co_return Unexpected{refused(connect_refusal(proxy, target, resp))};

    // 407: answered (or given up) by the auth exchange, which caps retries.
    std::optional<ProxyError> denied = co_await auth.on_challenge(resp);
    if (denied) co_return Unexpected{refused(std::move(*denied))};
    auto info = http::analyze_response(resp, "GET");  // a 407 is framed like any response
    buf.consume(head->head_size);
    // (co_await kept out of && and ?: : GCC 12 miscompiles it there.)
    bool reusable = false;
    if (info) reusable = co_await skip_small_body(*conn, buf, *info, ctx.connect_timeout);
    if (!reusable) {
      conn->close();
      conn.reset();
      if (auth.needs_same_connection())
        co_return Unexpected{refused({ProxyErrc::http_request_denied,
                                      "upstream proxy " + name + " closed the connection in the middle of the " +
                                          std::string(auth::scheme_name(auth.attempt().sent)) + " handshake",
                                      407})};
    }
  }
}

awaitable<Expected<ProxyProbe, HopFailure>> probe_proxy(const UpstreamContext& ctx, const ProxyUrl& proxy,
                                                        const HostPort& target) {
  const std::string name = proxy.to_redacted_string();
  auto opened = co_await connect_to_proxy(ctx, proxy);
  if (!opened) co_return Unexpected{opened.error()};
  ByteStreamPtr conn = std::move(*opened);
  const std::string request = "CONNECT " + target.to_string() + " HTTP/1.1\r\nHost: " + target.to_string() + "\r\n" +
                              (ctx.via.empty() ? "" : "Via: " + ctx.via + "\r\n") + "\r\n";
  error_code ec;
  const bool in_time = co_await timed_write(*conn, request, ctx.connect_timeout, ec);
  if (!in_time || ec)
    co_return Unexpected{
        unreachable({ProxyErrc::connection_terminated, "upstream proxy " + name + ": sending CONNECT failed"})};
  ReadBuffer buf(4096);
  auto head = co_await timed_read_head(*conn, buf, ctx.connect_timeout);
  conn->close();
  if (!head || head->status != HeadRead::Status::complete)
    co_return Unexpected{
        unreachable({ProxyErrc::connection_terminated, "upstream proxy " + name + " did not answer CONNECT"})};
  http::ResponseHead resp;
  auto parsed = http::parse_response_head(buf.data().substr(0, head->head_size), resp);
  if (parsed.state != http::ParseState::complete)
    co_return Unexpected{
        refused({ProxyErrc::http_protocol_error, "upstream proxy " + name + " sent a malformed reply"})};
  ProxyProbe probe;
  probe.status = resp.status;
  probe.challenges = proxy_authenticate_values(resp);
  co_return probe;
}

awaitable<Expected<Tunnel, HopFailure>> socks5_tunnel(const UpstreamContext& ctx, const ProxyUrl& proxy,
                                                      const HostPort& target) {
  const std::string name = proxy.to_redacted_string();
  auto bad = [&](const std::string& what) {
    return unreachable({ProxyErrc::connection_terminated, "SOCKS5 proxy " + name + ": " + what});
  };

  // socks5:// resolves here (the proxy gets an address); socks5h:// lets the proxy resolve.
  std::string host = target.host;
  if (proxy.scheme == ProxyScheme::socks5) {
    auto addrs = co_await resolve_host(target, ctx.connect_timeout, ctx.destinations.resolver);
    if (!addrs) co_return Unexpected{refused(addrs.error())};
    host = addrs->front().address().to_string();
  }

  auto opened = co_await connect_to_proxy(ctx, proxy);
  if (!opened) co_return Unexpected{opened.error()};
  ByteStreamPtr conn = std::move(*opened);
  ReadBuffer buf(512);
  error_code ec;
  // One budget for the whole handshake: a proxy that drips its reply a
  // byte at a time cannot stretch it step by step.
  const auto until = std::chrono::steady_clock::now() + ctx.connect_timeout;
  auto left = [&until] {
    auto rest = std::chrono::duration_cast<Millis>(until - std::chrono::steady_clock::now());
    return std::max(rest, Millis(1));
  };

  const bool userpass = proxy.has_credentials();
  const std::string greeting = socks5::greeting(userpass);
  bool ok = co_await timed_write(*conn, greeting, left(), ec);
  if (!ok || ec) co_return Unexpected{bad("sending the greeting failed")};
  ok = co_await timed_read_at_least(*conn, buf, 2, left());
  if (!ok) co_return Unexpected{bad("no answer to the greeting")};
  const auto ver = uint8_t(buf.data()[0]), method = uint8_t(buf.data()[1]);
  buf.consume(2);
  if (ver != socks5::kVersion) co_return Unexpected{bad("not a SOCKS5 server")};
  if (method == socks5::kMethodUserPass && userpass) {
    std::string msg;
    msg.reserve(3 + 2 * 255);  // no reallocation: the one buffer is wiped below
    if (!socks5::userpass_request(proxy.user, proxy.password.view(), msg))
      co_return Unexpected{
          refused({ProxyErrc::proxy_configuration_error,
                   "SOCKS5 proxy " + name + ": user name and password must be 1-255 bytes each", 502})};
    const bool sent = co_await timed_write(*conn, msg, left(), ec);
    OPENSSL_cleanse(msg.data(), msg.size());
    if (!sent || ec) co_return Unexpected{bad("sending credentials failed")};
    ok = co_await timed_read_at_least(*conn, buf, 2, left());
    if (!ok) co_return Unexpected{bad("no answer to the credentials")};
    // RFC 1929: version 1, status 0 = success.
    const bool accepted = buf.data()[0] == 1 && buf.data()[1] == 0;
    buf.consume(2);
    if (!accepted)
      co_return Unexpected{refused({ProxyErrc::http_request_denied,
                                    "SOCKS5 proxy " + name + " rejected the user name or password", 502})};
  } else if (method == socks5::kMethodUnacceptable) {
    co_return Unexpected{refused({ProxyErrc::http_request_denied,
                                  "SOCKS5 proxy " + name +
                                      (userpass ? " accepted none of ferry's authentication methods"
                                                : " requires authentication; put user:password@ in the socks5 URL"),
                                  502})};
  } else if (method != socks5::kMethodNone) {
    co_return Unexpected{bad("chose an authentication method ferry did not offer")};
  }

  const std::string connect_msg = socks5::connect_request(host, target.port);
  ok = co_await timed_write(*conn, connect_msg, left(), ec);
  if (!ok || ec) co_return Unexpected{bad("sending CONNECT failed")};
  for (;;) {
    auto reply = socks5::parse_reply(buf.data());
    if (reply.malformed) co_return Unexpected{bad("malformed reply")};
    if (reply.size) {
      if (reply.code != 0) {
        ProxyError e = socks5::reply_error(reply.code, name);  // it says "SOCKS5 proxy" itself
        // General failure (1) is the proxy's own trouble: try the next one.
        co_return Unexpected{HopFailure{std::move(e), reply.code == 1}};
      }
      buf.consume(reply.size);
      Tunnel t;
      t.early_bytes = std::string(buf.data());
      t.stream = std::move(conn);
      co_return std::move(t);
    }
    ok = co_await timed_read_at_least(*conn, buf, buf.size() + 1, left());
    if (!ok) co_return Unexpected{bad("no reply to CONNECT")};
  }
}

}  // namespace ferry
