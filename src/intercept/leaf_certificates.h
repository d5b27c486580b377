#pragma once
// Leaf certificates for intercepted hosts (SPEC §7), minted on first use and
// kept in a count-bounded LRU cache shared by every worker thread.
//
// Each leaf comes as a ready server TLS context (leaf + CA chain, TLS 1.2
// minimum, ALPN http/1.1 only), one SSL_CTX per host. Minting is one ECDSA
// signature plus building the context (~0.2 ms, bench/micro/leaf_mint_bench);
// it runs on the calling thread, outside the cache lock. Concurrent callers
// for a host that is being minted wait for that one mint (single flight), so
// an event loop blocks at most for one mint. A leaf that nears its end is
// re-minted by the next caller while the others go on using the old one.
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "base/expected.h"
#include "intercept/certificate_authority.h"
#include "net/tls_context.h"

namespace ferry {

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
  // May mint (see above): event loops call it off the loop (off_loop) when
  // cached() has nothing. `minted`: set when this call made the leaf.
  Expected<std::shared_ptr<boost::asio::ssl::context>, std::string> context_for(std::string_view host,
                                                                                bool* minted = nullptr);
  // The cached, fresh context for `host`, or null; never mints or waits
  // for a mint (a lock held for a lookup).
  std::shared_ptr<boost::asio::ssl::context> cached(std::string_view host);

  size_t size() const;
  uint64_t mints() const;

 private:
  LeafCertificates(std::shared_ptr<const CertificateAuthority> ca, Options options, EvpPkeyPtr shared_key);

  struct Entry {
    std::shared_ptr<boost::asio::ssl::context> context;  // null while the first mint runs
    SystemClock::time_point not_after;
    bool minting = false;
    std::list<std::string>::iterator lru;  // valid when context is set
  };

  SystemClock::time_point now() const;
  bool needs_mint(const Entry& e, SystemClock::time_point now) const;
  Expected<std::shared_ptr<boost::asio::ssl::context>, std::string> mint(const std::string& host, bool is_ip,
                                                                         SystemClock::time_point now,
                                                                         SystemClock::time_point& not_after) const;
  // Called with mu_ held.
  void store(const std::string& host, std::shared_ptr<boost::asio::ssl::context> context,
             SystemClock::time_point not_after);

  const std::shared_ptr<const CertificateAuthority> ca_;
  const Options options_;
  const EvpPkeyPtr shared_key_;     // null with key_per_host
  const EvpPkeyPtr shared_public_;  // its public half for certificates (p256_public_key)
  const SystemClock::time_point ca_not_after_;

  mutable std::mutex mu_;
  std::condition_variable minted_;
  std::unordered_map<std::string, Entry> entries_;
  std::list<std::string> lru_;  // most recently used first; hosts with a context
  uint64_t mints_ = 0;
};

// The ALPN choice of an intercepting server: "http/1.1" when the client
// offers it; a client that offers ALPN without it (h2 only) fails the
// handshake with no_application_protocol; no ALPN at all proceeds. Set on
// every context context_for returns; public for tests.
int select_http11_alpn(SSL* ssl, const unsigned char** out, unsigned char* out_len, const unsigned char* in,
                       unsigned int in_len, void* arg);

}  // namespace ferry
