#include "intercept/x509_util.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <ctime>

namespace ferry {

namespace {

struct BioFree {
  void operator()(BIO* p) const { BIO_free(p); }
};

std::string bio_text(BIO* bio) {
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  return n > 0 ? std::string(data, size_t(n)) : std::string();
}

}  // namespace

std::string openssl_error(const std::string& fallback) {
  unsigned long e = ERR_peek_last_error();
  ERR_clear_error();
  if (e == 0) return fallback;
  const char* reason = ERR_reason_error_string(e);
  return reason ? std::string(reason) : fallback;
}

EvpPkeyPtr make_p256_key() { return EvpPkeyPtr(EVP_EC_gen("P-256")); }

EvpPkeyPtr p256_public_key(EVP_PKEY* key) {
  char group[32] = {};
  size_t group_len = 0;
  if (EVP_PKEY_get_group_name(key, group, sizeof group, &group_len) != 1 || std::string_view(group) != "prime256v1")
    return nullptr;
  unsigned char point[65];
  size_t point_len = 0;
  if (EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, point, sizeof point, &point_len) != 1)
    return nullptr;
  // The DER of the named curve's OID: ECParameters for P-256.
  static constexpr unsigned char kP256Params[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
  const unsigned char* params = kP256Params;
  EvpPkeyPtr pub(d2i_KeyParams(EVP_PKEY_EC, nullptr, &params, sizeof kP256Params));
  const unsigned char* in = point;
  EVP_PKEY* raw = pub.get();
  if (!pub || d2i_PublicKey(EVP_PKEY_EC, &raw, &in, long(point_len)) == nullptr) {
    ERR_clear_error();
    return nullptr;
  }
  return pub;
}

bool set_random_serial(X509* cert) {
  std::unique_ptr<BIGNUM, decltype(&BN_free)> bn(BN_new(), BN_free);
  if (!bn) return false;
  do {
    if (BN_rand(bn.get(), 128, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1) return false;
  } while (BN_is_zero(bn.get()));  // RFC 5280: positive
  return BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert)) != nullptr;
}

bool set_validity(X509* cert, SystemClock::time_point not_before, SystemClock::time_point not_after) {
  return ASN1_TIME_set(X509_getm_notBefore(cert), SystemClock::to_time_t(not_before)) != nullptr &&
         ASN1_TIME_set(X509_getm_notAfter(cert), SystemClock::to_time_t(not_after)) != nullptr;
}

bool add_extension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (!ext) return false;
  const bool ok = X509_add_ext(cert, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return ok;
}

std::string iso_time(const ASN1_TIME* t) {
  std::tm tm{};
  if (ASN1_TIME_to_tm(t, &tm) != 1) return "?";
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

SystemClock::time_point to_time_point(const ASN1_TIME* t) {
  std::tm tm{};
  if (ASN1_TIME_to_tm(t, &tm) != 1) return {};
  return SystemClock::from_time_t(timegm(&tm));
}

std::string sha256_fingerprint(const X509* cert) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (X509_digest(cert, EVP_sha256(), md, &n) != 1) return "";
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned i = 0; i < n; ++i) {
    if (i) out += ':';
    out += hex[md[i] >> 4];
    out += hex[md[i] & 15];
  }
  return out;
}

std::string subject_line(const X509* cert) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new(BIO_s_mem()));
  if (!bio) return "";
  X509_NAME_print_ex(bio.get(), X509_get_subject_name(cert), 0, XN_FLAG_ONELINE & ~ASN1_STRFLGS_ESC_MSB);
  return bio_text(bio.get());
}

std::string certificate_to_pem(X509* cert) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) return "";
  return bio_text(bio.get());
}

}  // namespace ferry
