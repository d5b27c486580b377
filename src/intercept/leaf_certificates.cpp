#include "intercept/leaf_certificates.h"

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <array>
#include <boost/asio/ip/address.hpp>
#include <cstring>
#include <new>

#include "base/host_port.h"

namespace ferry {

namespace {

constexpr auto kBackdate = std::chrono::hours(1);
constexpr auto kRenewBefore = std::chrono::hours(24);
constexpr size_t kMaxCommonName = 64;  // RFC 5280 ub-common-name

struct LeafHost {
  std::string name;  // lower case; an IP literal in canonical form, without brackets
  bool is_ip = false;
};

bool valid_dns_name(std::string_view h) {
  if (h.empty() || h.size() > 253) return false;
  size_t label = 0;
  for (char c : h) {
    if (c == '.') {
      if (label == 0) return false;
      label = 0;
      continue;
    }
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    if (!ok || ++label > 63) return false;
  }
  return label > 0;
}

Expected<LeafHost, std::string> leaf_host(std::string_view host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  std::string h = to_lower(host);
  boost::system::error_code ec;
  auto addr = boost::asio::ip::make_address(h, ec);
  if (!ec) {
    if (addr.is_v6() && addr.to_v6().scope_id() != 0)
      return fail("no certificate can name the scoped IPv6 address " + h);
    return LeafHost{addr.to_string(), true};
  }
  if (!h.empty() && h.back() == '.') h.pop_back();  // the absolute form names the same host
  if (!valid_dns_name(h)) return fail("'" + h + "' is not a host name a certificate can hold");
  return LeafHost{std::move(h), false};
}

// subjectAltName with one DNS name or IP address, built with the typed API
// (no config-string parsing of a client-chosen name).
bool add_subject_alt_name(X509* cert, const LeafHost& host, bool critical) {
  GENERAL_NAMES* names = sk_GENERAL_NAME_new_null();
  GENERAL_NAME* name = GENERAL_NAME_new();
  bool ok = names && name;
  if (ok && host.is_ip) {
    ASN1_OCTET_STRING* ip = a2i_IPADDRESS(host.name.c_str());
    ok = ip != nullptr;
    if (ok) GENERAL_NAME_set0_value(name, GEN_IPADD, ip);
  } else if (ok) {
    ASN1_IA5STRING* dns = ASN1_IA5STRING_new();
    ok = dns && ASN1_STRING_set(dns, host.name.data(), int(host.name.size())) == 1;
    if (dns) GENERAL_NAME_set0_value(name, GEN_DNS, dns);
  }
  if (ok) {
    ok = sk_GENERAL_NAME_push(names, name) > 0;
    if (ok) name = nullptr;  // owned by names now
  }
  ok = ok && X509_add1_ext_i2d(cert, NID_subject_alt_name, names, critical ? 1 : 0, X509V3_ADD_DEFAULT) == 1;
  GENERAL_NAME_free(name);
  GENERAL_NAMES_free(names);
  return ok;
}

// The extensions of a leaf besides its name, in order: OpenSSL config
// values (fixed strings, never a client-chosen name).
struct ExtensionSpec {
  int nid;
  const char* value;
};
std::array<ExtensionSpec, 5> leaf_extension_specs(X509* ca) {
  return {{{NID_basic_constraints, "critical,CA:FALSE"},
           {NID_key_usage, "critical,digitalSignature"},
           {NID_ext_key_usage, "serverAuth"},
           {NID_subject_key_identifier, "hash"},
           {NID_authority_key_identifier, X509_get0_subject_key_id(ca) ? "keyid:always" : "issuer:always"}}};
}

}  // namespace

LeafCertificate::LeafCertificate(X509Ptr cert, EvpPkeyPtr key, X509* ca)
    : cert_(std::move(cert)), key_(std::move(key)), chain_(sk_X509_new_null()) {
  if (!chain_ || sk_X509_push(chain_, ca) <= 0) throw std::bad_alloc();
  X509_up_ref(ca);
}

LeafCertificate::~LeafCertificate() { sk_X509_pop_free(chain_, X509_free); }

bool LeafCertificate::install(SSL* ssl) const {
  // The leaf's serial (random, 128 bits) names its sessions: a ticket
  // issued under another host's leaf does not resume here.
  const ASN1_INTEGER* serial = X509_get0_serialNumber(cert_.get());
  const int len = std::min(ASN1_STRING_length(serial), int(SSL_MAX_SID_CTX_LENGTH));
  const bool ok = SSL_use_cert_and_key(ssl, cert_.get(), key_.get(), chain_, 1) == 1 &&
                  SSL_set_session_id_context(ssl, ASN1_STRING_get0_data(serial), unsigned(len)) == 1;
  if (!ok) ERR_clear_error();
  return ok;
}

int select_http11_alpn(SSL*, const unsigned char** out, unsigned char* out_len, const unsigned char* in,
                       unsigned int in_len, void*) {
  static constexpr unsigned char kHttp11[] = {'h', 't', 't', 'p', '/', '1', '.', '1'};
  for (unsigned i = 0; i < in_len;) {
    const unsigned len = in[i];
    if (i + 1 + len > in_len) break;
    if (len == sizeof kHttp11 && std::memcmp(in + i + 1, kHttp11, len) == 0) {
      *out = in + i + 1;
      *out_len = static_cast<unsigned char>(len);
      return SSL_TLSEXT_ERR_OK;
    }
    i += 1 + len;
  }
  // Only HTTP/1.1 is spoken inside the tunnel; OpenSSL turns this into a
  // no_application_protocol alert, so an h2-only client learns why.
  return SSL_TLSEXT_ERR_ALERT_FATAL;
}

Expected<std::unique_ptr<LeafCertificates>, std::string> LeafCertificates::create(
    std::shared_ptr<const CertificateAuthority> ca, Options options) {
  if (!ca) return fail("leaf certificates need a CA");
  if (options.capacity < 1) return fail("the leaf certificate cache needs room for at least one host");
  if (options.validity <= std::chrono::seconds(0)) return fail("leaf certificates need a positive validity");
  EvpPkeyPtr key;
  if (!options.key_per_host) {
    key = make_p256_key();
    if (!key) return fail("cannot make the leaf key: " + openssl_error("unknown OpenSSL error"));
  }
  auto shared = TlsServerContext::without_certificate();
  SSL_CTX_set_alpn_select_cb(shared->native().native_handle(), select_http11_alpn, nullptr);
  return std::unique_ptr<LeafCertificates>(new LeafCertificates(std::move(ca), std::move(options), std::move(key),
                                                                std::move(shared)));
}

LeafCertificates::LeafCertificates(std::shared_ptr<const CertificateAuthority> ca, Options options,
                                   EvpPkeyPtr shared_key, std::unique_ptr<TlsServerContext> shared)
    : ca_(std::move(ca)), options_(std::move(options)), shared_key_(std::move(shared_key)),
      shared_public_(shared_key_ ? p256_public_key(shared_key_.get()) : nullptr), ca_not_after_(ca_->not_after_time()),
      shared_(std::move(shared)) {
  // Built once against a template holding the shared public key, so a mint
  // only copies them: the signature is what remains of its cost.
  X509Ptr model(X509_new());
  if (model && shared_public_) X509_set_pubkey(model.get(), shared_public_.get());
  for (const auto& spec : leaf_extension_specs(ca_->certificate())) {
    X509_EXTENSION* ext = nullptr;
    const bool per_mint = spec.nid == NID_subject_key_identifier && !shared_public_;
    if (model && !per_mint) {
      X509V3_CTX v3;
      X509V3_set_ctx_nodb(&v3);
      X509V3_set_ctx(&v3, ca_->certificate(), model.get(), nullptr, nullptr, 0);
      ext = X509V3_EXT_conf_nid(nullptr, &v3, spec.nid, spec.value);
    }
    fixed_extensions_.emplace_back(ext);  // null: made per mint (also when this failed)
  }
  ERR_clear_error();
}

bool LeafCertificates::add_fixed_extensions(X509* cert) const {
  X509* ca = ca_->certificate();
  const auto specs = leaf_extension_specs(ca);
  for (size_t i = 0; i < specs.size(); ++i) {
    X509_EXTENSION* ext = fixed_extensions_[i].get();
    if (ext ? X509_add_ext(cert, ext, -1) != 1 : !add_extension(cert, ca, specs[i].nid, specs[i].value)) return false;
  }
  return true;
}

SystemClock::time_point LeafCertificates::now() const { return options_.clock ? options_.clock() : SystemClock::now(); }

size_t LeafCertificates::size() const {
  std::lock_guard lock(mu_);
  return lru_.size();
}

uint64_t LeafCertificates::mints() const {
  std::lock_guard lock(mu_);
  return mints_;
}

bool LeafCertificates::needs_mint(const Entry& e, SystemClock::time_point now) const {
  const auto margin = std::min<SystemClock::duration>(kRenewBefore, options_.validity / 2);
  if (now + margin < e.not_after) return false;
  // A leaf cut short by the CA's own end would come out the same.
  return e.not_after < ca_not_after_;
}

std::shared_ptr<const LeafCertificate> LeafCertificates::cached_leaf(std::string_view raw_host) {
  auto host = leaf_host(raw_host);
  if (!host) return nullptr;
  std::lock_guard lock(mu_);
  auto it = entries_.find(host->name);
  if (it == entries_.end() || !it->second.leaf) return nullptr;
  Entry& e = it->second;
  if (!e.minting && needs_mint(e, now())) return nullptr;
  lru_.splice(lru_.begin(), lru_, e.lru);
  return e.leaf;
}

Expected<std::shared_ptr<boost::asio::ssl::context>, std::string> LeafCertificates::context_for(
    std::string_view raw_host, bool* minted) {
  if (minted) *minted = false;
  auto host = leaf_host(raw_host);
  if (!host) return fail(host.error());
  auto leaf = leaf_named(host->name, host->is_ip, minted);
  if (!leaf) return fail(leaf.error());
  {
    std::lock_guard lock(mu_);
    auto it = entries_.find(host->name);
    if (it != entries_.end() && it->second.leaf == *leaf && it->second.context) return it->second.context;
  }
  const LeafCertificate& l = **leaf;
  auto context = TlsServerContext::from_certificate(l.certificate(), ca_->certificate(), l.key());
  if (!context) return fail("cannot serve the certificate for " + host->name + ": " + context.error());
  SSL_CTX_set_alpn_select_cb((*context)->native().native_handle(), select_http11_alpn, nullptr);
  // The asio context, kept alive by its TlsServerContext (aliasing).
  std::shared_ptr<TlsServerContext> owner(std::move(*context));
  std::shared_ptr<boost::asio::ssl::context> made(owner, &owner->native());
  std::lock_guard lock(mu_);
  auto it = entries_.find(host->name);
  if (it == entries_.end() || it->second.leaf != *leaf) return made;  // evicted or re-minted meanwhile
  if (!it->second.context) it->second.context = std::move(made);
  return it->second.context;
}

Expected<std::shared_ptr<const LeafCertificate>, std::string> LeafCertificates::leaf_for(std::string_view raw_host,
                                                                                         bool* minted) {
  if (minted) *minted = false;
  auto host = leaf_host(raw_host);
  if (!host) return fail(host.error());
  return leaf_named(host->name, host->is_ip, minted);
}

Expected<LeafCertificates::Leaf, std::string> LeafCertificates::leaf_named(const std::string& name, bool is_ip,
                                                                           bool* minted) {
  std::unique_lock lock(mu_);
  SystemClock::time_point t;
  for (;;) {
    t = now();
    auto it = entries_.find(name);
    if (it == entries_.end()) {
      entries_[name].minting = true;
      break;
    }
    Entry& e = it->second;
    if (e.leaf && (e.minting || !needs_mint(e, t))) {
      // Fresh, or old but still valid while another caller re-mints it.
      lru_.splice(lru_.begin(), lru_, e.lru);
      return e.leaf;
    }
    if (e.leaf) {
      e.minting = true;
      break;
    }
    minted_.wait(lock);  // the first mint for this host runs elsewhere
  }
  lock.unlock();
  SystemClock::time_point not_after;
  auto made = mint(name, is_ip, t, not_after);
  lock.lock();
  if (made) {
    store(name, *made, not_after);
    if (minted) *minted = true;
  } else if (auto it = entries_.find(name); it != entries_.end()) {
    if (it->second.leaf) it->second.minting = false;  // keep the old leaf
    else entries_.erase(it);                          // a waiter tries again
  }
  minted_.notify_all();
  return made;
}

void LeafCertificates::store(const std::string& host, Leaf leaf, SystemClock::time_point not_after) {
  ++mints_;
  // The entry may have been evicted while this re-mint ran; then it comes back.
  Entry& e = entries_[host];
  if (e.leaf) {
    lru_.splice(lru_.begin(), lru_, e.lru);
  } else {
    lru_.push_front(host);
    e.lru = lru_.begin();
  }
  e.leaf = std::move(leaf);
  e.context = nullptr;  // made from the old leaf
  e.not_after = not_after;
  e.minting = false;
  // Hosts whose first mint runs are not in lru_, so never evicted; an
  // evicted leaf lives on in the sessions that hold it.
  while (lru_.size() > options_.capacity) {
    entries_.erase(lru_.back());
    lru_.pop_back();
  }
}

Expected<LeafCertificates::Leaf, std::string> LeafCertificates::mint(const std::string& host, bool is_ip,
                                                                     SystemClock::time_point now,
                                                                     SystemClock::time_point& not_after) const {
  EvpPkeyPtr own_key, own_public;
  EVP_PKEY* key = shared_key_.get();
  EVP_PKEY* pub = shared_public_.get();
  if (options_.key_per_host) {
    own_key = make_p256_key();
    key = own_key.get();
    own_public = key ? p256_public_key(key) : nullptr;
    pub = own_public.get();
  }
  if (!pub) pub = key;
  X509Ptr cert(X509_new());
  if (!key || !cert) return fail("cannot mint a certificate for " + host + ": " + openssl_error("out of memory"));
  X509* x = cert.get();
  X509* ca = ca_->certificate();
  // Never past the CA's own end: a chain is only as valid as its shortest link.
  not_after = std::min<SystemClock::time_point>(now + options_.validity, ca_not_after_);
  // Names longer than a CN can hold go in the SAN alone, which is then
  // critical (RFC 5280 4.2.1.6: an empty subject).
  const bool with_cn = host.size() <= kMaxCommonName;
  const bool ok =
      X509_set_version(x, X509_VERSION_3) == 1 && set_random_serial(x) && set_validity(x, now - kBackdate, not_after) &&
      X509_set_issuer_name(x, X509_get_subject_name(ca)) == 1 &&
      (!with_cn || X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                                              reinterpret_cast<const unsigned char*>(host.c_str()), -1, -1, 0) == 1) &&
      X509_set_pubkey(x, pub) == 1 && add_fixed_extensions(x) &&
      add_subject_alt_name(x, LeafHost{host, is_ip}, !with_cn) && X509_sign(x, ca_->key(), EVP_sha256()) > 0;
  if (!ok) return fail("cannot mint a certificate for " + host + ": " + openssl_error("unknown OpenSSL error"));
  if (!options_.key_per_host) {
    EVP_PKEY_up_ref(key);
    own_key.reset(key);
  }
  return std::make_shared<const LeafCertificate>(std::move(cert), std::move(own_key), ca);
}

}  // namespace ferry
