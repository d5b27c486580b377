#pragma once
// Leaf certificates for intercepted hosts (SPEC §7), minted on first use and
// kept in a count-bounded LRU cache shared by every worker thread.
//
// A new host costs one certificate: built with the typed API and one ECDSA
// signature (bench/micro/leaf_mint_bench). It is served from one shared
// server context (TLS 1.2 minimum, ALPN http/1.1 only): leaf_for() gives
// the certificate, and LeafCertificate::install puts it on a connection
// before its handshake (a few µs). context_for() still gives a context per
// host (leaf + CA chain), made on first ask from the cached leaf, for
// callers that need one; making an SSL_CTX costs ~100 µs more.
// Minting runs on the calling thread, outside the cache lock. Concurrent
// callers for a host that is being minted wait for that one mint (single
// flight), so an event loop blocks at most for one mint. A leaf that nears
// its end is re-minted by the next caller while the others go on using the
// old one.
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/expected.h"
#include "intercept/certificate_authority.h"
#include "net/tls_context.h"

namespace ferry {

// One minted leaf: the certificate, its key and the CA as its chain.
class LeafCertificate {
 public:
  LeafCertificate(X509Ptr cert, EvpPkeyPtr key, X509* ca);
  ~LeafCertificate();
  LeafCertificate(const LeafCertificate&) = delete;
  LeafCertificate& operator=(const LeafCertificate&) = delete;

  // Serves this leaf on `ssl` (made from LeafCertificates::server_context,
  // before its handshake): certificate, key and chain, and a session ID
  // context of its own so that a session of another host's leaf is never
  // resumed here. False when OpenSSL refuses (its error queue is cleared).
  bool install(SSL* ssl) const;

  X509* certificate() const { return cert_.get(); }
  EVP_PKEY* key() const { return key_.get(); }

 private:
  X509Ptr cert_;
  EvpPkeyPtr key_;
  STACK_OF(X509) * chain_;
};

class LeafCertificates {
 public:
  struct Options {
    size_t capacity = 1024;     // hosts kept (least recently used goes first)
    bool key_per_host = false;  // else one key for all leaves, made at construction (as mitmproxy)
    std::chrono::seconds validity = std::chrono::hours(24 * 7);
    std::function<SystemClock::time_point()> clock = nullptr;  // empty: the system clock (tests move time)
  };

  static Expected<std::unique_ptr<LeafCertificates>, std::string> create(std::shared_ptr<const CertificateAuthority> ca,
                                                                         Options options);

  // The server context for `host`: a DNS name or an IP literal (IPv6 with
  // or without brackets), any case. An error for a host no certificate can
  // name (empty, bad characters, a scoped IPv6 address) or when OpenSSL fails.
  // May mint (see above): event loops go through leaf_for off the loop
  // (off_loop) when cached_leaf() has nothing. `minted`, when given, says
  // whether this call minted the leaf (mints() before and after also counts
  // other callers').
  Expected<std::shared_ptr<boost::asio::ssl::context>, std::string> context_for(std::string_view host,
                                                                                bool* minted = nullptr);
  // The leaf for `host` (same names and errors as context_for), to install
  // on a connection of server_context(). A new host costs one signature.
  Expected<std::shared_ptr<const LeafCertificate>, std::string> leaf_for(std::string_view host, bool* minted = nullptr);
  // The cached, fresh leaf for `host`, or null; never mints or waits for a
  // mint (a lock held for a lookup).
  std::shared_ptr<const LeafCertificate> cached_leaf(std::string_view host);
  // The context every leaf_for leaf is served from.
  boost::asio::ssl::context& server_context() { return shared_->native(); }

  size_t size() const;
  uint64_t mints() const;

 private:
  LeafCertificates(std::shared_ptr<const CertificateAuthority> ca, Options options, EvpPkeyPtr shared_key,
                   std::unique_ptr<TlsServerContext> shared);

  using Leaf = std::shared_ptr<const LeafCertificate>;
  struct Entry {
    Leaf leaf;                                           // null while the first mint runs
    std::shared_ptr<boost::asio::ssl::context> context;  // context_for's, made from leaf on first ask
    SystemClock::time_point not_after;
    bool minting = false;
    std::list<std::string>::iterator lru;  // valid when context is set
  };

  SystemClock::time_point now() const;
  bool needs_mint(const Entry& e, SystemClock::time_point now) const;
  // leaf_for with a normalised name.
  Expected<Leaf, std::string> leaf_named(const std::string& name, bool is_ip, bool* minted);
  Expected<Leaf, std::string> mint(const std::string& host, bool is_ip, SystemClock::time_point now,
                                   SystemClock::time_point& not_after) const;
  // Called with mu_ held.
  void store(const std::string& host, Leaf leaf, SystemClock::time_point not_after);

  const std::shared_ptr<const CertificateAuthority> ca_;
  const Options options_;
  const EvpPkeyPtr shared_key_;     // null with key_per_host
  const EvpPkeyPtr shared_public_;  // its public half for certificates (p256_public_key)
  const SystemClock::time_point ca_not_after_;
  const std::unique_ptr<TlsServerContext> shared_;  // certificate per connection
  // The extensions every leaf carries (leaf_extension_specs order), built
  // once; null where one is built per mint (the key identifier of a key
  // per host).
  struct ExtensionFree {
    void operator()(X509_EXTENSION* e) const { X509_EXTENSION_free(e); }
  };
  std::vector<std::unique_ptr<X509_EXTENSION, ExtensionFree>> fixed_extensions_;
  bool add_fixed_extensions(X509* cert) const;

  mutable std::mutex mu_;
  std::condition_variable minted_;
  std::unordered_map<std::string, Entry> entries_;
  std::list<std::string> lru_;  // most recently used first; hosts with a leaf
  uint64_t mints_ = 0;
};

// The ALPN choice of an intercepting server: "http/1.1" when the client
// offers it; a client that offers ALPN without it (h2 only) fails the
// handshake with no_application_protocol; no ALPN at all proceeds. Set on
// every context context_for returns and on server_context; public for tests.
int select_http11_alpn(SSL* ssl, const unsigned char** out, unsigned char* out_len, const unsigned char* in,
                       unsigned int in_len, void* arg);

}  // namespace ferry
