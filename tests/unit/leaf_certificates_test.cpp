// LeafCertificates: what a minted leaf holds (checked with OpenSSL and
// verified against the CA with host name checks), the LRU bound, single
// flight, shared vs per-host keys, re-minting near the end, and the ALPN
// rule in real handshakes over a BIO pair.
#include "intercept/leaf_certificates.h"

#include <gtest/gtest.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <atomic>
#include <barrier>
#include <string>
#include <thread>
#include <vector>

namespace ferry {
namespace {

using namespace std::chrono_literals;

std::shared_ptr<const CertificateAuthority> test_ca(SystemClock::time_point now = SystemClock::now(),
                                                    std::chrono::seconds validity = 24h * 3653) {
  auto ca = CertificateAuthority::generate("ferry interception CA (unit test)", now, validity);
  EXPECT_TRUE(ca) << (ca ? "" : ca.error());
  return std::make_shared<const CertificateAuthority>(std::move(*ca));
}

std::unique_ptr<LeafCertificates> leaves(std::shared_ptr<const CertificateAuthority> ca,
                                         LeafCertificates::Options options = {}) {
  auto made = LeafCertificates::create(std::move(ca), std::move(options));
  EXPECT_TRUE(made) << (made ? "" : made.error());
  return std::move(*made);
}

std::shared_ptr<boost::asio::ssl::context> context(LeafCertificates& certs, std::string_view host) {
  auto ctx = certs.context_for(host);
  EXPECT_TRUE(ctx) << host << ": " << (ctx ? "" : ctx.error());
  return ctx ? *ctx : nullptr;
}

X509* leaf_of(const std::shared_ptr<boost::asio::ssl::context>& ctx) {
  return SSL_CTX_get0_certificate(ctx->native_handle());
}
EVP_PKEY* key_of(const std::shared_ptr<boost::asio::ssl::context>& ctx) {
  return SSL_CTX_get0_privatekey(ctx->native_handle());
}

// X509_verify_cert of `leaf` against `ca` as a TLS server certificate for
// `name` (a DNS name or an IP literal), at the current time.
int verify(X509* leaf, const CertificateAuthority& ca, const std::string& name, bool ip = false) {
  X509_STORE* store = X509_STORE_new();
  X509_STORE_add_cert(store, ca.certificate());
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  X509_STORE_CTX_init(ctx, store, leaf, nullptr);
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx);
  X509_VERIFY_PARAM_set_purpose(param, X509_PURPOSE_SSL_SERVER);
  if (ip) X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str());
  else X509_VERIFY_PARAM_set1_host(param, name.c_str(), name.size());
  const int ok = X509_verify_cert(ctx);
  const int err = X509_STORE_CTX_get_error(ctx);
  X509_STORE_CTX_free(ctx);
  X509_STORE_free(store);
  return ok == 1 ? X509_V_OK : err;
}

struct San {
  int type = -1;
  std::string value;  // the DNS name, or the raw address bytes
  bool critical = false;
};

San only_san(X509* leaf) {
  San out;
  int crit = -1;
  auto* names = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(leaf, NID_subject_alt_name, &crit, nullptr));
  EXPECT_NE(names, nullptr);
  if (!names) return out;
  EXPECT_EQ(sk_GENERAL_NAME_num(names), 1);
  const GENERAL_NAME* n = sk_GENERAL_NAME_value(names, 0);
  int type = 0;
  auto* value = static_cast<ASN1_STRING*>(GENERAL_NAME_get0_value(n, &type));
  out.type = type;
  out.value.assign(reinterpret_cast<const char*>(ASN1_STRING_get0_data(value)), size_t(ASN1_STRING_length(value)));
  out.critical = crit == 1;
  GENERAL_NAMES_free(names);
  return out;
}

std::string common_name(X509* leaf) {
  char buf[256] = {};
  int n = X509_NAME_get_text_by_NID(X509_get_subject_name(leaf), NID_commonName, buf, sizeof buf);
  return n < 0 ? std::string() : std::string(buf, size_t(n));
}

TEST(LeafCertificates, DnsLeafHoldsTheHostAndVerifiesAgainstTheCa) {
  auto ca = test_ca();
  auto certs = leaves(ca);
  const auto now = SystemClock::now();
  auto ctx = context(*certs, "API.Example.COM");
  ASSERT_TRUE(ctx);
  X509* leaf = leaf_of(ctx);

  San san = only_san(leaf);
  EXPECT_EQ(san.type, GEN_DNS);
  EXPECT_EQ(san.value, "api.example.com");
  EXPECT_FALSE(san.critical);
  EXPECT_EQ(common_name(leaf), "api.example.com");

  EXPECT_EQ(verify(leaf, *ca, "api.example.com"), X509_V_OK);
  EXPECT_EQ(verify(leaf, *ca, "API.EXAMPLE.COM"), X509_V_OK);
  EXPECT_EQ(verify(leaf, *ca, "other.example.com"), X509_V_ERR_HOSTNAME_MISMATCH);
  EXPECT_EQ(verify(leaf, *test_ca(), "api.example.com"), X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);

  // Validity: an hour back, seven days on.
  EXPECT_LE(std::chrono::abs(to_time_point(X509_get0_notBefore(leaf)) - (now - 1h)), 2s);
  EXPECT_LE(std::chrono::abs(to_time_point(X509_get0_notAfter(leaf)) - (now + 24h * 7)), 2s);

  // Key and extensions.
  EVP_PKEY* pub = X509_get0_pubkey(leaf);
  ASSERT_EQ(EVP_PKEY_get_base_id(pub), EVP_PKEY_EC);
  char group[64] = {};
  size_t len = 0;
  ASSERT_EQ(EVP_PKEY_get_group_name(pub, group, sizeof group, &len), 1);
  EXPECT_STREQ(group, "prime256v1");
  const uint32_t flags = X509_get_extension_flags(leaf);
  EXPECT_FALSE(flags & EXFLAG_CA);
  EXPECT_TRUE(flags & EXFLAG_BCONS);  // basicConstraints present (CA:FALSE)
  EXPECT_EQ(X509_get_key_usage(leaf), uint32_t(KU_DIGITAL_SIGNATURE));
  EXPECT_EQ(X509_get_extended_key_usage(leaf), uint32_t(XKU_SSL_SERVER));
  ASSERT_NE(X509_get0_subject_key_id(leaf), nullptr);
  ASSERT_NE(X509_get0_authority_key_id(leaf), nullptr);
  EXPECT_EQ(ASN1_OCTET_STRING_cmp(X509_get0_authority_key_id(leaf), X509_get0_subject_key_id(ca->certificate())), 0);
  EXPECT_EQ(X509_check_issued(ca->certificate(), leaf), X509_V_OK);

  // Serial: positive, at most 128 bits, random.
  BIGNUM* bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(leaf), nullptr);
  EXPECT_FALSE(BN_is_negative(bn));
  EXPECT_LE(BN_num_bits(bn), 128);
  EXPECT_GT(BN_num_bits(bn), 64);
  BN_free(bn);
  auto other = context(*certs, "b.example.com");
  EXPECT_NE(ASN1_INTEGER_cmp(X509_get0_serialNumber(leaf), X509_get0_serialNumber(leaf_of(other))), 0);

  // The chain sent is the leaf and the CA.
  STACK_OF(X509)* chain = nullptr;
  ASSERT_EQ(SSL_CTX_get0_chain_certs(ctx->native_handle(), &chain), 1);
  ASSERT_EQ(sk_X509_num(chain), 1);
  EXPECT_EQ(X509_cmp(sk_X509_value(chain, 0), ca->certificate()), 0);
}

TEST(LeafCertificates, IpLeavesHoldTheAddress) {
  auto ca = test_ca();
  auto certs = leaves(ca);
  auto v4 = context(*certs, "192.0.2.7");
  San san = only_san(leaf_of(v4));
  EXPECT_EQ(san.type, GEN_IPADD);
  EXPECT_EQ(san.value, std::string("\xc0\x00\x02\x07", 4));
  EXPECT_EQ(verify(leaf_of(v4), *ca, "192.0.2.7", true), X509_V_OK);
  EXPECT_EQ(verify(leaf_of(v4), *ca, "192.0.2.8", true), X509_V_ERR_IP_ADDRESS_MISMATCH);

  // Brackets stripped; spellings of one address share one leaf.
  auto v6 = context(*certs, "[2001:DB8::1]");
  san = only_san(leaf_of(v6));
  EXPECT_EQ(san.type, GEN_IPADD);
  EXPECT_EQ(san.value.size(), 16u);
  EXPECT_EQ(verify(leaf_of(v6), *ca, "2001:db8::1", true), X509_V_OK);
  EXPECT_EQ(context(*certs, "2001:db8:0::0001"), v6);
  EXPECT_EQ(certs->mints(), 2u);
}

TEST(LeafCertificates, LongNamesGoInACriticalSanOnly) {
  auto ca = test_ca();
  auto certs = leaves(ca);
  const std::string host = std::string(60, 'a') + ".example.com";  // 72 characters
  auto ctx = context(*certs, host);
  X509* leaf = leaf_of(ctx);
  EXPECT_EQ(common_name(leaf), "");
  San san = only_san(leaf);
  EXPECT_EQ(san.value, host);
  EXPECT_TRUE(san.critical);
  EXPECT_EQ(verify(leaf, *ca, host), X509_V_OK);
  // 64 characters still fit in a CN.
  const std::string fits = std::string(52, 'b') + ".example.com";
  EXPECT_EQ(common_name(leaf_of(context(*certs, fits))), fits);
}

TEST(LeafCertificates, NamesNoCertificateCanHoldAreErrors) {
  auto certs = leaves(test_ca());
  for (const char* bad :
       {"", "a b.example", "*.example.com", "exa mple", "a..b", "fe80::1%eth0", "[]", "x/y", "host\r\nInjected: 1"}) {
    auto r = certs->context_for(bad);
    EXPECT_FALSE(r) << bad;
  }
  EXPECT_EQ(certs->mints(), 0u);
  EXPECT_EQ(certs->size(), 0u);
  // A trailing dot names the same host.
  EXPECT_EQ(context(*certs, "example.com."), context(*certs, "EXAMPLE.com"));
}

TEST(LeafCertificates, LeavesNeverOutliveTheCa) {
  const auto now = SystemClock::now();
  auto ca = test_ca(now, 48h);  // ends in 47 hours (backdated one)
  auto certs = leaves(ca);
  auto ctx = context(*certs, "a.example");
  EXPECT_EQ(to_time_point(X509_get0_notAfter(leaf_of(ctx))), ca->not_after_time());
  EXPECT_EQ(verify(leaf_of(ctx), *ca, "a.example"), X509_V_OK);
}

TEST(LeafCertificates, CacheIsAnLruBoundedByCapacity) {
  auto certs = leaves(test_ca(), {.capacity = 3});
  auto a = context(*certs, "a.test");
  context(*certs, "b.test");
  context(*certs, "c.test");
  EXPECT_EQ(certs->size(), 3u);
  EXPECT_EQ(context(*certs, "a.test"), a);  // a becomes the most recent
  EXPECT_EQ(certs->mints(), 3u);
  context(*certs, "d.test");  // evicts b, the least recently used
  EXPECT_EQ(certs->size(), 3u);
  EXPECT_EQ(certs->mints(), 4u);
  EXPECT_EQ(context(*certs, "a.test"), a);
  context(*certs, "c.test");
  EXPECT_EQ(certs->mints(), 4u);
  context(*certs, "b.test");  // minted again
  EXPECT_EQ(certs->mints(), 5u);
  EXPECT_EQ(certs->size(), 3u);
  // An evicted context stays usable by whoever holds it.
  EXPECT_NE(leaf_of(a), nullptr);

  for (int i = 0; i < 50; ++i) context(*certs, "h" + std::to_string(i) + ".test");
  EXPECT_EQ(certs->size(), 3u);
}

TEST(LeafCertificates, ConcurrentCallersForANewHostShareOneMint) {
  auto certs = leaves(test_ca());
  constexpr int kThreads = 8;
  for (int round = 0; round < 20; ++round) {
    const std::string host = "new" + std::to_string(round) + ".test";
    std::barrier start(kThreads);
    std::vector<std::shared_ptr<boost::asio::ssl::context>> got(kThreads);
    std::vector<std::thread> threads;
    std::atomic<int> minted_calls{0};  // each caller learns whether it was the one that minted
    for (int i = 0; i < kThreads; ++i)
      threads.emplace_back([&, i] {
        start.arrive_and_wait();
        bool minted = false;
        auto r = certs->context_for(host, &minted);
        if (r) got[i] = *r;
        if (minted) ++minted_calls;
      });
    for (auto& t : threads) t.join();
    EXPECT_EQ(certs->mints(), uint64_t(round + 1)) << host;
    EXPECT_EQ(minted_calls.load(), 1) << host;
    for (const auto& g : got) EXPECT_EQ(g, got.front()) << host;
    EXPECT_NE(got.front(), nullptr);
  }
}

// The event loops' path: cached_leaf() never mints; exactly one of
// concurrent leaf_for() callers reports that it minted (the log's one event).
TEST(LeafCertificates, CachedLeafNeverMintsAndOneCallerReportsTheMint) {
  auto certs = leaves(test_ca());
  EXPECT_EQ(certs->cached_leaf("api.test"), nullptr);
  EXPECT_EQ(certs->mints(), 0u);
  constexpr int kThreads = 8;
  std::barrier start(kThreads);
  std::atomic<int> minted{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i)
    threads.emplace_back([&] {
      start.arrive_and_wait();
      bool made = false;
      auto r = certs->leaf_for("API.test", &made);
      EXPECT_TRUE(r);
      if (made) minted.fetch_add(1);
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(minted.load(), 1);
  auto hit = certs->cached_leaf("api.TEST");
  ASSERT_NE(hit, nullptr);
  auto leaf = certs->leaf_for("api.test");
  ASSERT_TRUE(leaf);
  EXPECT_EQ(hit, *leaf);
  EXPECT_EQ(certs->mints(), 1u);
  EXPECT_EQ(certs->cached_leaf("bad host"), nullptr);
}

TEST(LeafCertificates, ManyThreadsManyHostsStayWithinCapacity) {
  auto ca = test_ca();
  auto certs = leaves(ca, {.capacity = 16});
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 40; ++i) {
        // Overlapping host sets: hits, misses, evictions and waits interleave.
        const std::string host = "h" + std::to_string((i * 7 + t * 3) % 48) + ".test";
        auto r = certs->context_for(host);
        if (!r || verify(SSL_CTX_get0_certificate((*r)->native_handle()), *ca, host) != X509_V_OK) ++failures;
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_LE(certs->size(), 16u);
  EXPECT_GE(certs->mints(), 48u);
}

TEST(LeafCertificates, OneSharedKeyUnlessKeyPerHost) {
  auto ca = test_ca();
  auto shared = leaves(ca);
  EXPECT_EQ(EVP_PKEY_eq(key_of(context(*shared, "a.test")), key_of(context(*shared, "b.test"))), 1);
  auto per_host = leaves(ca, {.key_per_host = true});
  auto a = context(*per_host, "a.test");
  auto b = context(*per_host, "b.test");
  EXPECT_NE(EVP_PKEY_eq(key_of(a), key_of(b)), 1);
  EXPECT_EQ(EVP_PKEY_eq(key_of(a), X509_get0_pubkey(leaf_of(a))), 1);
  EXPECT_EQ(verify(leaf_of(b), *ca, "b.test"), X509_V_OK);
}

TEST(LeafCertificates, ReMintedWithinADayOfTheEnd) {
  auto now = std::make_shared<std::atomic<SystemClock::time_point>>(SystemClock::now());
  auto certs = leaves(test_ca(), {.clock = [now] { return now->load(); }});
  auto first = context(*certs, "a.test");
  const auto start = now->load();
  *now = start + 24h * 5;
  EXPECT_EQ(context(*certs, "a.test"), first);
  *now = start + 24h * 6 - 1min;  // still more than a day left
  EXPECT_EQ(context(*certs, "a.test"), first);
  EXPECT_EQ(certs->mints(), 1u);
  *now = start + 24h * 6 + 1s;  // less than a day left
  auto second = context(*certs, "a.test");
  EXPECT_NE(second, first);
  EXPECT_EQ(certs->mints(), 2u);
  EXPECT_GT(to_time_point(X509_get0_notAfter(leaf_of(second))), to_time_point(X509_get0_notAfter(leaf_of(first))));
  EXPECT_EQ(context(*certs, "a.test"), second);
  EXPECT_EQ(certs->size(), 1u);
}

TEST(LeafCertificates, LeafCutShortByTheCaIsNotReMintedInALoop) {
  auto now = std::make_shared<std::atomic<SystemClock::time_point>>(SystemClock::now());
  auto certs = leaves(test_ca(now->load(), 36h), {.clock = [now] { return now->load(); }});
  auto first = context(*certs, "a.test");
  *now = now->load() + 20h;  // within a day of the leaf's (and the CA's) end
  EXPECT_EQ(context(*certs, "a.test"), first);
  EXPECT_EQ(certs->mints(), 1u);
}

// ---- handshakes over a BIO pair ------------------------------------------

struct HandshakeResult {
  bool ok = false;
  std::string alpn;  // what the client got
  unsigned long client_error = 0;
  bool resumed = false;
  // The client's session, after the server's tickets (freed with the result).
  std::unique_ptr<SSL_SESSION, decltype(&SSL_SESSION_free)> session{nullptr, SSL_SESSION_free};
};

// Server side: the leaf installed on the connection (shared context), when given.
struct ServerSide {
  const LeafCertificate* leaf = nullptr;
  SSL_SESSION* resume = nullptr;  // offered by the client
};

HandshakeResult handshake(boost::asio::ssl::context& server_ctx, const CertificateAuthority& ca,
                          const std::string& host, std::vector<std::string> alpn, int client_max_version = 0,
                          ServerSide side = {}) {
  SSL_CTX* cctx = SSL_CTX_new(TLS_client_method());
  X509_STORE_add_cert(SSL_CTX_get_cert_store(cctx), ca.certificate());
  SSL_CTX_set_verify(cctx, SSL_VERIFY_PEER, nullptr);
  if (client_max_version) {
    SSL_CTX_set_security_level(cctx, 0);
    SSL_CTX_set_min_proto_version(cctx, client_max_version);
    SSL_CTX_set_max_proto_version(cctx, client_max_version);
  }
  SSL* client = SSL_new(cctx);
  SSL* server = SSL_new(server_ctx.native_handle());
  if (side.leaf) {
    EXPECT_TRUE(side.leaf->install(server));
  }
  if (side.resume) SSL_set_session(client, side.resume);
  SSL_set_tlsext_host_name(client, host.c_str());
  SSL_set1_host(client, host.c_str());
  if (!alpn.empty()) {
    std::string wire;
    for (const auto& p : alpn) wire += char(p.size()) + p;
    SSL_set_alpn_protos(client, reinterpret_cast<const unsigned char*>(wire.data()), unsigned(wire.size()));
  }
  BIO *cb = nullptr, *sb = nullptr;
  BIO_new_bio_pair(&cb, 0, &sb, 0);
  SSL_set_bio(client, cb, cb);
  SSL_set_bio(server, sb, sb);
  SSL_set_connect_state(client);
  SSL_set_accept_state(server);
  ERR_clear_error();

  HandshakeResult out;
  bool client_done = false, server_done = false, failed = false;
  for (int i = 0; i < 20 && !(client_done && server_done) && !failed; ++i) {
    if (!client_done) {
      int r = SSL_do_handshake(client);
      if (r == 1) client_done = true;
      else if (SSL_get_error(client, r) != SSL_ERROR_WANT_READ) failed = true;
      if (failed) out.client_error = ERR_peek_last_error();
    }
    if (!server_done && !failed) {
      int r = SSL_do_handshake(server);
      if (r == 1) server_done = true;
      else if (SSL_get_error(server, r) != SSL_ERROR_WANT_READ) {
        // The server failed: let the client read the alert.
        ERR_clear_error();
        int c = SSL_do_handshake(client);
        if (c != 1) out.client_error = ERR_peek_last_error();
        failed = true;
      }
    }
  }
  out.ok = client_done && server_done;
  const unsigned char* proto = nullptr;
  unsigned len = 0;
  SSL_get0_alpn_selected(client, &proto, &len);
  out.alpn.assign(reinterpret_cast<const char*>(proto ? proto : reinterpret_cast<const unsigned char*>("")), len);
  if (out.ok) {
    out.resumed = SSL_session_reused(client) == 1;
    char c;
    size_t n = 0;
    (void)SSL_read_ex(client, &c, 1, &n);  // takes in the server's session tickets
    // A session of a connection that did not shut down is not resumable.
    SSL_set_shutdown(client, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
    out.session.reset(SSL_get1_session(client));
  }
  ERR_clear_error();
  SSL_free(client);
  SSL_free(server);
  SSL_CTX_free(cctx);
  return out;
}

TEST(LeafCertificates, AlpnOffersHttp11Only) {
  auto ca = test_ca();
  auto certs = leaves(ca);
  auto ctx = context(*certs, "api.test");

  auto r = handshake(*ctx, *ca, "api.test", {"h2", "http/1.1"});
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(r.alpn, "http/1.1");

  r = handshake(*ctx, *ca, "api.test", {"http/1.1"});
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(r.alpn, "http/1.1");

  r = handshake(*ctx, *ca, "api.test", {});  // no ALPN at all: fine
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(r.alpn, "");

  r = handshake(*ctx, *ca, "api.test", {"h2"});  // h2 only: a clear failure
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(ERR_GET_REASON(r.client_error), SSL_R_TLSV1_ALERT_NO_APPLICATION_PROTOCOL)
      << ERR_reason_error_string(r.client_error);

  // The client's own verification fails for another name.
  r = handshake(*ctx, *ca, "other.test", {"http/1.1"});
  EXPECT_FALSE(r.ok);
}

TEST(LeafCertificates, Tls11IsRefused) {
  auto ca = test_ca();
  auto certs = leaves(ca);
  auto ctx = context(*certs, "api.test");
  EXPECT_TRUE(handshake(*ctx, *ca, "api.test", {}, TLS1_2_VERSION).ok);
  EXPECT_FALSE(handshake(*ctx, *ca, "api.test", {}, TLS1_1_VERSION).ok);
}

// leaf_for: one signature per new host, served from one shared context by
// installing the leaf on each connection; context_for reuses the same leaf.
TEST(LeafCertificates, SharedContextServesEachHostItsOwnLeaf) {
  auto ca = test_ca();
  auto certs = leaves(ca);
  auto a = certs->leaf_for("A.test");
  auto b = certs->leaf_for("10.0.0.1");
  ASSERT_TRUE(a && b);
  EXPECT_EQ(certs->mints(), 2u);
  EXPECT_EQ(certs->leaf_for("a.test.")->get(), a->get());  // cached, same name
  EXPECT_EQ(verify((*a)->certificate(), *ca, "a.test"), X509_V_OK);
  EXPECT_EQ(verify((*b)->certificate(), *ca, "10.0.0.1", true), X509_V_OK);
  auto& shared = certs->server_context();

  auto r = handshake(shared, *ca, "a.test", {"h2", "http/1.1"}, 0, {a->get()});
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(r.alpn, "http/1.1");
  r = handshake(shared, *ca, "a.test", {"h2"}, 0, {a->get()});  // the ALPN rule holds here too
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(ERR_GET_REASON(r.client_error), SSL_R_TLSV1_ALERT_NO_APPLICATION_PROTOCOL);
  r = handshake(shared, *ca, "a.test", {"http/1.1"}, 0, {b->get()});  // b's leaf does not name a.test
  EXPECT_FALSE(r.ok);
  EXPECT_FALSE(handshake(shared, *ca, "a.test", {}, TLS1_1_VERSION, {a->get()}).ok);

  auto ctx = context(*certs, "a.test");  // a context per host, from the cached leaf
  EXPECT_EQ(certs->mints(), 2u);
  EXPECT_EQ(X509_cmp(leaf_of(ctx), (*a)->certificate()), 0);
  EXPECT_EQ(context(*certs, "a.test"), ctx);
}

// One context serves every host, so a session must resume only under the
// leaf that made it: a client offering a.test's session on b.test gets a
// full handshake with b.test's certificate.
TEST(LeafCertificates, SessionsResumeOnlyUnderTheirOwnLeaf) {
  auto ca = test_ca();
  auto certs = leaves(ca);
  auto a = certs->leaf_for("a.test");
  auto b = certs->leaf_for("b.test");
  ASSERT_TRUE(a && b);
  auto& shared = certs->server_context();
  auto first = handshake(shared, *ca, "a.test", {}, 0, {a->get()});
  ASSERT_TRUE(first.ok);
  ASSERT_NE(first.session, nullptr);
  ASSERT_EQ(SSL_SESSION_is_resumable(first.session.get()), 1);
  auto same = handshake(shared, *ca, "a.test", {}, 0, {a->get(), first.session.get()});
  EXPECT_TRUE(same.ok);
  EXPECT_TRUE(same.resumed);  // resumption works at all
  auto other = handshake(shared, *ca, "b.test", {}, 0, {b->get(), first.session.get()});
  EXPECT_TRUE(other.ok);
  EXPECT_FALSE(other.resumed);
}

TEST(LeafCertificates, AlpnSelectorParsesTheWireList) {
  const unsigned char* out = nullptr;
  unsigned char len = 0;
  std::string wire;  // outlives the call: `out` points into it
  auto select = [&](std::string w) {
    wire = std::move(w);
    out = nullptr;
    return select_http11_alpn(nullptr, &out, &len, reinterpret_cast<const unsigned char*>(wire.data()),
                              unsigned(wire.size()), nullptr);
  };
  EXPECT_EQ(select(std::string("\x02h2\x08http/1.1", 12)), SSL_TLSEXT_ERR_OK);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(out), len), "http/1.1");
  EXPECT_EQ(select(std::string("\x08http/1.0", 9)), SSL_TLSEXT_ERR_ALERT_FATAL);
  EXPECT_EQ(select(std::string("\x09http/1.1", 9)), SSL_TLSEXT_ERR_ALERT_FATAL);  // length past the end
  EXPECT_EQ(select(std::string("\x0ahttp/1.1xx", 11)), SSL_TLSEXT_ERR_ALERT_FATAL);
}

}  // namespace
}  // namespace ferry
