#include "app/check_command.h"

#include <csignal>
#include <iostream>

#include "auth/negotiate/kdc_locator.h"
#include "net/dns_pool.h"
#include "server/interception_setup.h"
#include "upstream/proxy_hop.h"
#include "upstream/upstream_runtime.h"

namespace ferry {

namespace {

// A target no proxy can reach: authentication is judged by whether the
// proxy gets past its 407, and no real traffic leaves the network.
const HostPort kProbeTarget{"ferry-check.invalid", 443};
// For SOCKS5 (which may resolve locally): the proxy's own port 1, refused
// at once, which proves the handshake and credentials passed.
const HostPort kSocksProbeTarget{"127.0.0.1", 1};

struct Report {
  int failures = 0;
  void line(bool ok, const std::string& what, const std::string& detail) {
    if (!ok) ++failures;
    std::cout << (ok ? "ok    " : "FAIL  ") << what << ": " << detail << "\n";
  }
  void info(const std::string& what, const std::string& detail) {
    std::cout << "info  " << what << ": " << detail << "\n";
  }
};

std::string lifetime_words(int64_t s) {
  if (s < 0) return "no expiry";
  return std::to_string(s / 3600) + "h" + std::to_string((s % 3600) / 60) + "m" + std::to_string(s % 60) + "s left";
}

std::string schemes_of(const std::vector<std::string>& values) {
  std::string out;
  for (const auto& v : values) {
    auto scheme = v.substr(0, v.find(' '));
    if (out.find(scheme) == std::string::npos) out += (out.empty() ? "" : ", ") + scheme;
  }
  return out.empty() ? "none" : out;
}

awaitable<void> check_kdcs(const UpstreamContext& ctx, Report& r) {
  auto kdcs = auth::configured_kdcs();
  if (kdcs.kdcs.empty()) {
    r.info("kdc", kdcs.error);
    co_return;
  }
  for (const auto& kdc : kdcs.kdcs) {
    auto sock = co_await connect_tcp(kdc, ctx.connect_timeout, ctx.destinations);
    r.line(bool(sock), "kdc " + kdc.to_string() + " (" + kdcs.realm + ")",
           sock ? "reachable over TCP" : sock.error().details);
  }
}

awaitable<void> check_upstream(const UpstreamContext& ctx, const ProxyUrl& proxy, Report& r) {
  const std::string name = proxy.to_redacted_string();
  if (proxy.scheme == ProxyScheme::socks5 || proxy.scheme == ProxyScheme::socks5h) {
    auto t = co_await socks5_tunnel(ctx, proxy, kSocksProbeTarget);
    // Getting as far as the target (unreachable) means the handshake and
    // any user/password passed.
    // Passed: the tunnel opened, or the proxy refused only the target (it
    // got that far). A proxy that cannot be reached or spoken to fails.
    const bool ok = t || (!t.error().fail_over && t.error().error.type != ProxyErrc::http_request_denied);
    r.line(ok, "upstream " + name, ok ? "SOCKS5 handshake passed" : t.error().error.details);
    co_return;
  }
  auto probe = co_await probe_proxy(ctx, proxy, kProbeTarget);
  if (!probe) {
    r.line(false, "upstream " + name, probe.error().error.details);
    co_return;
  }
  r.line(true, "upstream " + name,
         "reachable; offers " + schemes_of(probe->challenges) +
             (probe->status == 407 ? "" : " (answered " + std::to_string(probe->status) + " without auth)"));
  if (probe->status != 407) co_return;
  auto t = co_await http_connect_tunnel(ctx, proxy, kProbeTarget, true);
  const bool passed = t || (!t.error().fail_over && t.error().error.http_status() != 407);
  r.line(passed, "auth " + name, passed ? "ferry's credentials were accepted" : t.error().error.details);
}

awaitable<void> run_checks(const UpstreamContext& ctx, UpstreamRuntime& rt, const Config& config, Report& r) {
  if (rt.negotiate) {
    auto run_status = [&] { return rt.negotiate->status(); };
    auto status = co_await off_loop(ctx.blocking, run_status);
    if (!status) {
      r.line(false, "kerberos", status.error().details);
      co_return;
    }
    const auth::CredentialStatus& st = *status;
    // Kerberos is asked for explicitly: --auth negotiate, or ferry's own
    // identity (--keytab, or a Kerberos --user with a password file).
    const bool explicit_kerberos =
        config.auth == AuthMode::negotiate || !config.keytab.empty() ||
        (!config.user.empty() && config.user.find('\\') == std::string::npos && !config.password_file.empty());
    if (st.present)
      r.line(true, "kerberos", st.principal + " from " + st.source + ", ticket " + lifetime_words(st.lifetime_s));
    else if (explicit_kerberos) r.line(false, "kerberos", st.failure.words);
    else r.info("kerberos", st.failure.words + " (Negotiate unavailable; other schemes still work)");
    if (st.present || explicit_kerberos) co_await check_kdcs(ctx, r);
  }
  std::vector<ProxyUrl> upstreams = config.upstreams;
  if (upstreams.empty()) {
    const auto d = rt.routes.route(TrafficKind::tunnel, kProbeTarget.host, kProbeTarget.port);
    upstreams.assign(d.proxies.begin(), d.proxies.end());
    if (d.direct) r.info("route", "no upstream proxy configured: traffic goes direct");
  }
  for (const auto& p : upstreams) co_await check_upstream(ctx, p, r);
}

}  // namespace

int run_check(const Config& config) {
  std::signal(SIGPIPE, SIG_IGN);
  auto rt = build_upstream_runtime(config, process_env(), {});
  if (!rt) {
    std::cout << "FAIL  config: " << rt.error() << "\n";
    return 2;
  }
  Report r;
  r.line(true, "config", "valid");
  for (const auto& w : (*rt)->warnings) r.info("env", w);
  EventLog log(config.log_format, LogLevel::off);
  // Inject rules need the CA (and say how many rules, never their values).
  if (!config.inject.empty()) {
    Config probe = config;
    probe.interception.request_log.clear();  // a check opens no files for writing
    auto interception = build_interception(probe, process_env(), log);
    r.line(bool(interception), "interception",
           interception ? std::to_string(config.inject.size()) + " inject rule(s); CA loaded" : interception.error());
  }
  DnsPool dns;
  DestinationFilter filter;
  const Destinations destinations{dns, filter};
  TlsClientContext origin_tls;
  UpstreamContext ctx{
      config.connect_timeout, destinations, *(*rt)->proxy_tls, origin_tls, (*rt)->health, (*rt)->auth, log,
      (*rt)->blocking};
  asio::io_context io(1);
  const BlockingPoolShutdownGuard pool_before_io((*rt)->blocking);
  asio::co_spawn(io, run_checks(ctx, **rt, config, r), asio::detached);
  io.run();
  return r.failures == 0 ? 0 : 1;
}

}  // namespace ferry
