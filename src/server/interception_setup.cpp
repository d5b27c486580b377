#include "server/interception_setup.h"

#include "intercept/certificate_authority.h"

namespace ferry {

namespace {

// The leaf cache as the server's CertificateSource; a debug event per mint
// (tests count them: concurrent first CONNECTs to a host mint once).
class LeafCertificateSource final : public CertificateSource {
 public:
  LeafCertificateSource(LeafCertificates& leaves, EventLog& log) : leaves_(leaves), log_(log) {}
  Expected<std::shared_ptr<boost::asio::ssl::context>, std::string> server_context(std::string_view host) override {
    bool minted = false;
    auto ctx = leaves_.context_for(host, &minted);
    if (minted && log_.enabled(LogLevel::debug))
      log_.log(LogLevel::debug, "leaf_certificate_minted",
               {{"host", std::string(host)}, {"cached", uint64_t(leaves_.size())}});
    return ctx;
  }
  std::shared_ptr<boost::asio::ssl::context> cached(std::string_view host) override { return leaves_.cached(host); }

 private:
  LeafCertificates& leaves_;
  EventLog& log_;
};

}  // namespace

Expected<std::unique_ptr<InterceptionRuntime>, std::string> build_interception(const Config& config,
                                                                               const GetEnv& getenv, EventLog& log) {
  if (config.inject.empty()) return std::unique_ptr<InterceptionRuntime>();
  std::string dir = config.interception.ca_dir;
  if (dir.empty()) {
    auto d = default_ca_dir(getenv);
    if (!d) return fail("inject rules need the interception CA: " + d.error());
    dir = *d;
  }
  auto ca = CertificateAuthority::load(dir);
  if (!ca) return fail("inject rules need the interception CA: " + ca.error());
  if (auto problem = ca->validity_problem(SystemClock::now()))
    return fail("the interception CA in " + dir + " cannot sign: " + *problem);
  auto rt = std::make_unique<InterceptionRuntime>();
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
