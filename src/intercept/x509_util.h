#pragma once
// Small OpenSSL helpers shared by the interception CA and the leaf minter:
// owning pointers, random serials, validity, extensions, text forms.
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <chrono>
#include <memory>
#include <string>

namespace ferry {

struct X509Free {
  void operator()(X509* p) const { X509_free(p); }
};
struct EvpPkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
using X509Ptr = std::unique_ptr<X509, X509Free>;
using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, EvpPkeyFree>;

using SystemClock = std::chrono::system_clock;

// The reason of OpenSSL's most recent error (and clears the queue), or
// `fallback` when there is none.
std::string openssl_error(const std::string& fallback);

// A fresh ECDSA P-256 key (nullptr on failure).
EvpPkeyPtr make_p256_key();

// The public half of a P-256 key in the form X509_set_pubkey encodes fast.
// OpenSSL 3.0 encodes a provider key's SubjectPublicKeyInfo through its
// encoder framework, ~180 us a call (seven ECDSA signatures); a key decoded
// from the curve's parameters and the point takes the built-in ~5 us path.
// nullptr when `key` is not P-256 (then use `key` itself).
EvpPkeyPtr p256_public_key(EVP_PKEY* key);

// 128 random bits as a positive serial number (RFC 5280 allows 20 octets;
// randomness makes serials unpredictable, which is what CA/B asks for).
bool set_random_serial(X509* cert);

bool set_validity(X509* cert, SystemClock::time_point not_before, SystemClock::time_point not_after);

// Adds one extension written in openssl.cnf syntax ("critical,CA:TRUE");
// `issuer` is the signing certificate (for authorityKeyIdentifier). Only
// for fixed values: host names go through typed APIs, never this syntax.
bool add_extension(X509* cert, X509* issuer, int nid, const char* value);

// "2026-12-03T15:36:14Z".
std::string iso_time(const ASN1_TIME* t);
SystemClock::time_point to_time_point(const ASN1_TIME* t);

// As `openssl x509 -noout -fingerprint -sha256` prints it: "AB:CD:…".
std::string sha256_fingerprint(const X509* cert);

// "O = ferry, CN = …", as `openssl x509 -noout -subject` prints it.
std::string subject_line(const X509* cert);

std::string certificate_to_pem(X509* cert);

}  // namespace ferry
