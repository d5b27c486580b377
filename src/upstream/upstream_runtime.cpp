#include "upstream/upstream_runtime.h"

#include <unistd.h>

namespace ferry {

namespace {

Expected<auth::Credentials> load_credentials(const Config& config) {
  auth::Credentials creds;
  if (config.user.empty()) {
    if (!config.password_file.empty()) return fail("--password-file needs --user");
    return creds;
  }
  creds.user = config.user;
  if (!config.password_file.empty()) {
    auto pw = auth::read_password_file(config.password_file);
    if (!pw) return fail(pw.error());
    creds.password = std::move(*pw);
  } else {
    auto pw = auth::prompt_password("ferry: password for " + config.user + ": ");
    if (!pw) return fail("--user " + config.user + ": " + pw.error());
    creds.password = std::move(*pw);
  }
  return creds;
}

// Which Kerberos credentials ferry uses: its own from --keytab or from
// --user + password (never touching the user's ccache), else the default
// ccache (KRB5CCNAME; MIT also honours KRB5_CLIENT_KTNAME there).
Expected<auth::KerberosIdentity> kerberos_identity(const Config& config, const auth::Credentials& creds) {
  auth::KerberosIdentity id;
  id.realm = config.realm;
  // DOMAIN\user is an NTLM name, not a Kerberos principal.
  const bool kerberos_user = !config.user.empty() && config.user.find('\\') == std::string::npos;
  if (!config.keytab.empty()) {
    if (::access(config.keytab.c_str(), R_OK) != 0) return fail("--keytab " + config.keytab + ": cannot be read");
    id.source = auth::KerberosIdentity::Source::keytab;
    id.keytab = config.keytab;
    if (kerberos_user) id.user = config.user;
  } else if (kerberos_user && !creds.password.empty()) {
    id.source = auth::KerberosIdentity::Source::password;
    id.user = config.user;
    id.password = creds.password;
  }
  return id;
}

}  // namespace

Expected<std::unique_ptr<UpstreamRuntime>> build_upstream_runtime(const Config& config, const GetEnv& getenv,
                                                                  const std::vector<std::string>& own_listeners,
                                                                  bool load_secrets) {
  if (config.auth == AuthMode::ntlm && config.user.empty())
    return fail("--auth ntlm needs --user DOMAIN\\user (and --password-file)");
  auto rt = std::make_unique<UpstreamRuntime>();
  rt->blocking.set_wait(config.connect_timeout);
  RouteTable::Inputs in;
  in.upstreams = config.upstreams;
  in.no_proxy = config.no_proxy;
  in.no_proxy_exact = config.no_proxy_exact;
  if (config.upstreams.empty()) {
    auto env = read_env_proxies(getenv, own_listeners);
    if (!env) return fail(env.error());
    rt->warnings = env->warnings;
    rt->from_env = env->http_proxy || env->https_proxy || env->all_proxy;
    // Flags and the file override the environment's bypass lists.
    if (config.no_proxy_set) env->no_proxy = config.no_proxy;
    if (config.no_proxy_exact_set) env->no_proxy_exact = config.no_proxy_exact;
    in.env = std::move(*env);
  }
  auto routes = RouteTable::build(in);
  if (!routes) return fail(routes.error());
  rt->routes = std::move(*routes);

  std::vector<ProxyUrl> proxies = config.upstreams;
  if (in.env) {
    for (const auto* p : {&in.env->http_proxy, &in.env->https_proxy, &in.env->all_proxy})
      if (*p) proxies.push_back(**p);
  }
  bool need_password = false;
  for (const auto& p : proxies)
    need_password |= !p.has_credentials() && (p.scheme == ProxyScheme::http || p.scheme == ProxyScheme::https);
  auth::Credentials creds;
  // With --keytab and no --password-file, --user names the Kerberos
  // principal only: no password is asked for.
  const bool keytab_only = !config.keytab.empty() && config.password_file.empty();
  if (keytab_only) need_password = false;
  // --user for Kerberos (ferry's own ticket) needs the password even when
  // every upstream carries its own userinfo, or there is none (`ferry token`).
  const bool negotiate_on = config.auth == AuthMode::automatic || config.auth == AuthMode::negotiate;
  if (negotiate_on && !config.user.empty() && config.user.find('\\') == std::string::npos && !keytab_only)
    need_password = true;
  if (need_password && config.auth != AuthMode::none && load_secrets) {
    auto c = load_credentials(config);
    if (!c) return fail(c.error());
    creds = std::move(*c);
  } else if (!config.password_file.empty() && config.user.empty()) {
    return fail("--password-file needs --user");
  }
  if (config.auth == AuthMode::automatic || config.auth == AuthMode::negotiate) {
    auto identity = kerberos_identity(config, creds);
    if (!identity) return fail(identity.error());
    rt->negotiate = auth::make_mit_negotiate(std::move(*identity), config.connect_timeout);
  }
  AuthRegistry::Settings settings{config.auth, creds, rt->negotiate, config.spn, {}, {}};
  if (rt->negotiate && config.keytab.empty() && !creds.password.empty() && config.user.find('\\') == std::string::npos)
    settings.kerberos_password_user = config.user;
  settings.policy.allow_basic_fallback = config.auth_allow_basic_fallback;
  settings.policy.require_mutual_auth = config.require_mutual_auth;
  for (const auto& p : proxies) rt->auth.add(p, settings);
  rt->auth.set_defaults(std::move(settings));
  for (const ProxyUrl* p : rt->routes.all_proxies()) rt->auth.bind(*p);

  if (!config.upstream_ca.empty()) {
    auto ctx = TlsClientContext::with_ca_file(config.upstream_ca);
    if (!ctx) return fail("--upstream-ca " + config.upstream_ca + ": " + ctx.error());
    rt->proxy_tls = std::move(*ctx);
  } else {
    rt->proxy_tls = std::make_unique<TlsClientContext>();
  }
  if (!config.interception.origin_ca.empty()) {
    auto ctx = TlsClientContext::with_ca_file(config.interception.origin_ca);
    if (!ctx) return fail("--origin-ca " + config.interception.origin_ca + ": " + ctx.error());
    rt->origin_tls = std::move(*ctx);
  }
  return rt;
}

}  // namespace ferry
