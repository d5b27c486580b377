#include "server/interception_setup.h"

#include "intercept/certificate_authority.h"

namespace ferry {

namespace {

// The leaf cache as the server's CertificateSource; a debug event per mint
// (tests count them: concurrent first CONNECTs to a host mint once).
class LeafCertificateSource final : public CertificateSource {
 public:
  LeafCertificateSource(LeafCertificates& leaves, EventLog& log) : leaves_(leaves), log_(log) {}
  Expected<ServerTls, std::string> server_tls(std::string_view host) override {
    bool minted = false;
    auto leaf = leaves_.leaf_for(host, &minted);
    if (!leaf) return Unexpected{leaf.error()};
    if (minted && log_.enabled(LogLevel::debug))
      log_.log(LogLevel::debug, "leaf_certificate_minted",
               {{"host", std::string(host)}, {"cached", uint64_t(leaves_.size())}});
    return serve(std::move(*leaf));
  }
  std::optional<ServerTls> cached_tls(std::string_view host) override {
    auto leaf = leaves_.cached_leaf(host);
    if (!leaf) return std::nullopt;
    return serve(std::move(leaf));
  }

 private:
  // The shared context lives as long as the cache (the runtime's); the
  // connection holds its leaf until the handshake installed it.
  ServerTls serve(std::shared_ptr<const LeafCertificate> leaf) {
    std::shared_ptr<boost::asio::ssl::context> shared(std::shared_ptr<void>(), &leaves_.server_context());
    return ServerTls{std::move(shared), [leaf = std::move(leaf)](SSL* ssl) { return leaf->install(ssl); }};
  }

  LeafCertificates& leaves_;
  EventLog& log_;
};

}  // namespace

Expected<std::unique_ptr<InterceptionRuntime>, std::string> build_interception(const Config& config,
                                                                               const GetEnv& getenv, EventLog& log) {
  bool rules = !config.inject.empty();
  for (const auto& [name, profile] : config.profiles) rules = rules || !profile->rules.empty();
  // Runs (the admin listener) may bring rules later: with a CA they can;
  // without one, a run with rules is refused when it is made.
  const bool runs = !config.admin.empty();
  if (!rules && !runs) return std::unique_ptr<InterceptionRuntime>();
  std::string dir = config.interception.ca_dir;
  if (dir.empty()) {
    auto d = default_ca_dir(getenv);
    if (!d && !rules) return std::unique_ptr<InterceptionRuntime>();
    if (!d) return fail("inject rules need the interception CA: " + d.error());
    dir = *d;
  }
  auto ca = CertificateAuthority::load(dir);
  if (!ca && !rules) return std::unique_ptr<InterceptionRuntime>();
  if (!ca) return fail("inject rules need the interception CA: " + ca.error());
  if (auto problem = ca->validity_problem(SystemClock::now()))
    return fail("the interception CA in " + dir + " cannot sign: " + *problem);
  auto rt = std::make_unique<InterceptionRuntime>();
  rt->ca_dir = dir;
  LeafCertificates::Options options;
  options.capacity = config.interception.leaf_cache_size;
  options.key_per_host = config.interception.leaf_key_per_host;
  auto leaves = LeafCertificates::create(std::make_shared<const CertificateAuthority>(std::move(*ca)), options);
  if (!leaves) return fail("interception: " + leaves.error());
  rt->leaves = std::move(*leaves);
  rt->certificates = std::make_unique<LeafCertificateSource>(*rt->leaves, log);
  if (!config.interception.request_log.empty()) {
    auto opened = RequestLog::open(config.interception.request_log, config.interception.request_log_bodies);
    if (!opened) return fail("--request-log: " + opened.error());
    rt->request_log = std::move(*opened);
  }
  return rt;
}

}  // namespace ferry
