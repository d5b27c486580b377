#pragma once
// The interception CA (SPEC §7): an ECDSA P-256 key and a self-signed
// certificate in one directory, made once by `ferry ca init` and loaded by
// every later command. The key never leaves the directory; nothing here
// prints or logs it.
//
//   DIR/ca.key     the private key (PKCS#8 PEM), mode 0600
//   DIR/ca.pem     the CA certificate
//   DIR/bundle.pem the system trust bundle plus ca.pem (see write_trust_bundle)
#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/expected.h"
#include "intercept/x509_util.h"
#include "routing/route_table.h"

namespace ferry {

class CertificateAuthority {
 public:
  // Loads the CA in `dir`, or makes one there (creating the directory,
  // mode 0700, with its parents) when the directory holds neither ca.key nor
  // ca.pem. `created` says which. A directory with only one of the two is an
  // error that names the missing file: ferry never overwrites a CA.
  static Expected<CertificateAuthority, std::string> init(const std::string& dir, bool& created);
  // Loads the CA in `dir`. Errors name the file and the problem; a missing
  // CA says how to make one.
  static Expected<CertificateAuthority, std::string> load(const std::string& dir);
  // A CA that lives in memory only (tests, benchmarks): valid from an hour
  // before `now` until `now + validity`.
  static Expected<CertificateAuthority, std::string> generate(const std::string& common_name,
                                                              SystemClock::time_point now,
                                                              std::chrono::seconds validity);

  CertificateAuthority(CertificateAuthority&&) noexcept = default;
  CertificateAuthority& operator=(CertificateAuthority&&) noexcept = default;

  const std::string& dir() const { return dir_; }  // empty for generate()
  const std::string& certificate_pem() const { return pem_; }
  std::string subject() const { return subject_line(cert_.get()); }
  std::string sha256_fingerprint() const { return ferry::sha256_fingerprint(cert_.get()); }
  std::string not_before() const;  // "2026-12-03T14:36:14Z"
  std::string not_after() const;
  SystemClock::time_point not_after_time() const;
  // Why leaves signed now would not verify (the CA expired or is not valid
  // yet), or nothing.
  std::optional<std::string> validity_problem(SystemClock::time_point now) const;

  X509* certificate() const { return cert_.get(); }
  EVP_PKEY* key() const { return key_.get(); }

 private:
  CertificateAuthority(std::string dir, X509Ptr cert, EvpPkeyPtr key);

  std::string dir_;
  X509Ptr cert_;
  EvpPkeyPtr key_;
  std::string pem_;
};

std::string ca_key_path(const std::string& dir);
std::string ca_cert_path(const std::string& dir);
std::string ca_bundle_path(const std::string& dir);

// Where a system's trust bundle lives on Debian and its derivatives.
inline constexpr const char* kSystemTrustBundle = "/etc/ssl/certs/ca-certificates.crt";

// Writes DIR/bundle.pem (atomically, mode 0644): the certificates of
// `system_bundle` (when it exists) followed by the CA's. SSL_CERT_FILE,
// REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE and GIT_SSL_CAINFO *replace* a client's
// trust: pointed at ca.pem alone, every host that is not intercepted (whose
// tunnel stays end-to-end and shows the origin's own certificate) would fail.
// Returns whether the system bundle was included.
Expected<bool, std::string> write_trust_bundle(const CertificateAuthority& ca, const std::string& system_bundle);

// $XDG_DATA_HOME/ferry/ca, else $HOME/.local/share/ferry/ca. XDG_DATA_HOME
// counts only when absolute (the XDG spec says to ignore a relative one).
Expected<std::string, std::string> default_ca_dir(const GetEnv& getenv);

// The variables that make clients trust the CA in `dir` (absolute paths):
// the four that replace trust point at bundle.pem, NODE_EXTRA_CA_CERTS
// (which adds) at ca.pem. For `ferry ca install-hint` and `ferry env`.
std::vector<std::pair<std::string, std::string>> ca_environment(const std::string& dir);

}  // namespace ferry
