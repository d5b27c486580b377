#include "intercept/certificate_authority.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "base/secret.h"
#include "base/shell_quote.h"

namespace ferry {

namespace {

// Ten years: a CA is installed in trust stores and environment variables
// once, and a short-lived one would break every configured client silently
// when it expired. The key stays in a 0600 file on this machine, rotating it
// is `rm -r DIR && ferry ca init`, and what a stolen key could do is bounded
// by who trusts it (this user's tools); the leaves it signs live 7 days.
constexpr auto kCaValidity = std::chrono::hours(24 * 3653);
// Backdated an hour, so a client whose clock runs a little behind accepts it.
constexpr auto kBackdate = std::chrono::hours(1);
constexpr size_t kMaxPemSize = 1 << 20;

std::string join(const std::string& dir, const char* name) {
  return dir.empty() || dir.back() == '/' ? dir + name : dir + "/" + name;
}

std::string errno_text() { return std::strerror(errno); }

bool exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

std::string init_hint(const std::string& dir) { return "run 'ferry ca init --ca-dir " + shell_quote(dir) + "'"; }

// mkdir -p with mode 0700 for every directory it makes (exactly 0700,
// whatever the umask). Existing directories are left as they are.
Expected<bool, std::string> make_private_dirs(const std::string& dir) {
  std::string path;
  std::stringstream parts(dir);
  std::string part;
  if (!dir.empty() && dir.front() == '/') path = "/";
  while (std::getline(parts, part, '/')) {
    if (part.empty()) continue;
    path += (path.empty() || path.back() == '/' ? "" : "/") + part;
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0) {
      if (!S_ISDIR(st.st_mode)) return fail(path + " exists and is not a directory");
      continue;
    }
    if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) return fail("cannot create " + path + ": " + errno_text());
    if (::chmod(path.c_str(), 0700) != 0) return fail("cannot set the mode of " + path + ": " + errno_text());
  }
  return true;
}

bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(size_t(n));
  }
  return ::fsync(fd) == 0;
}

// Creates `path` with `mode` from the first byte on (O_EXCL: never over an
// existing file or through a symlink), so the key is never readable by
// others, not even for a moment.
Expected<bool, std::string> write_new_file(const std::string& path, std::string_view data, mode_t mode) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
  if (fd < 0) return fail("cannot create " + path + ": " + errno_text());
  const bool ok = write_all(fd, data);
  const int saved = errno;
  ::close(fd);
  if (!ok) {
    ::unlink(path.c_str());
    return fail("cannot write " + path + ": " + std::strerror(saved));
  }
  return true;
}

// The whole file (at most kMaxPemSize bytes) into `out`; `private_key`
// refuses a file that group or others may read, like --password-file.
Expected<bool, std::string> read_file(const std::string& path, bool private_key, std::string& out) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fail("cannot read " + path + ": " + errno_text());
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return fail(path + " is not a regular file");
  }
  if (private_key && (st.st_mode & (S_IRWXG | S_IRWXO))) {
    ::close(fd);
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", unsigned(st.st_mode & 07777));
    return fail(path + ": mode " + mode + " lets others read or change the CA key; make it private (chmod 600 " +
                shell_quote(path) + ")");
  }
  char buf[4096];
  bool ok = true;
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) ok = false;
    if (n <= 0) break;
    out.append(buf, size_t(n));
    if (out.size() > kMaxPemSize) break;
  }
  OPENSSL_cleanse(buf, sizeof buf);
  ::close(fd);
  if (!ok) return fail("cannot read " + path);
  if (out.size() > kMaxPemSize) return fail(path + " is too large for a PEM file");
  return true;
}

// Never prompts: an encrypted key is an error, not a question on the terminal.
int no_passphrase(char*, int, int, void*) { return 0; }

Expected<EvpPkeyPtr, std::string> read_key(const std::string& path) {
  std::string pem;
  auto r = read_file(path, true, pem);
  if (!r) {
    cleanse_string(pem);
    return fail(r.error());
  }
  BIO* bio = BIO_new_mem_buf(pem.data(), int(pem.size()));
  EvpPkeyPtr key(bio ? PEM_read_bio_PrivateKey(bio, nullptr, no_passphrase, nullptr) : nullptr);
  BIO_free(bio);
  cleanse_string(pem);
  ERR_clear_error();  // the reason could only be "bad decrypt" or a PEM parse error
  if (!key) return fail(path + ": not an unencrypted PEM private key");
  const int type = EVP_PKEY_get_base_id(key.get());
  if (type != EVP_PKEY_EC && type != EVP_PKEY_RSA) return fail(path + ": the CA key must be an EC or RSA key");
  return key;
}

Expected<X509Ptr, std::string> read_certificate(const std::string& path) {
  std::string pem;
  auto r = read_file(path, false, pem);
  if (!r) return fail(r.error());
  BIO* bio = BIO_new_mem_buf(pem.data(), int(pem.size()));
  X509Ptr cert(bio ? PEM_read_bio_X509(bio, nullptr, nullptr, nullptr) : nullptr);
  BIO_free(bio);
  if (!cert) return fail(path + ": not a PEM certificate (" + openssl_error("no certificate found") + ")");
  return cert;
}

std::string key_to_pem(EVP_PKEY* key) {
  BIO* bio = BIO_new(BIO_s_mem());
  std::string out;
  if (bio && PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr) == 1) {
    char* data = nullptr;
    long n = BIO_get_mem_data(bio, &data);
    out.assign(data, size_t(n));
    OPENSSL_cleanse(data, size_t(n));
  }
  BIO_free(bio);
  return out;
}

std::string ca_common_name() {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') std::strcpy(host, "localhost");
  // A CN holds at most 64 characters; the rest of the name takes 24.
  return "ferry interception CA (" + std::string(host).substr(0, 40) + ")";
}

}  // namespace

std::string ca_key_path(const std::string& dir) { return join(dir, "ca.key"); }
std::string ca_cert_path(const std::string& dir) { return join(dir, "ca.pem"); }
std::string ca_bundle_path(const std::string& dir) { return join(dir, "bundle.pem"); }

CertificateAuthority::CertificateAuthority(std::string dir, X509Ptr cert, EvpPkeyPtr key)
    : dir_(std::move(dir)), cert_(std::move(cert)), key_(std::move(key)), pem_(certificate_to_pem(cert_.get())) {}

std::string CertificateAuthority::not_before() const { return iso_time(X509_get0_notBefore(cert_.get())); }
std::string CertificateAuthority::not_after() const { return iso_time(X509_get0_notAfter(cert_.get())); }
SystemClock::time_point CertificateAuthority::not_after_time() const {
  return to_time_point(X509_get0_notAfter(cert_.get()));
}

std::optional<std::string> CertificateAuthority::validity_problem(SystemClock::time_point now) const {
  if (now < to_time_point(X509_get0_notBefore(cert_.get()))) return "the CA is not valid before " + not_before();
  if (now >= not_after_time()) return "the CA expired on " + not_after();
  return std::nullopt;
}

Expected<CertificateAuthority, std::string> CertificateAuthority::generate(const std::string& common_name,
                                                                           SystemClock::time_point now,
                                                                           std::chrono::seconds validity) {
  EvpPkeyPtr key = make_p256_key();
  X509Ptr cert(X509_new());
  if (!key || !cert) return fail("cannot make the CA key: " + openssl_error("out of memory"));
  X509* x = cert.get();
  X509_NAME* name = X509_get_subject_name(x);
  auto add_name = [&](const char* field, const std::string& value) {
    return X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(value.c_str()),
                                      -1, -1, 0) == 1;
  };
  const bool ok = X509_set_version(x, X509_VERSION_3) == 1 && set_random_serial(x) &&
                  set_validity(x, now - kBackdate, now + validity) && add_name("O", "ferry") &&
                  add_name("CN", common_name) && X509_set_issuer_name(x, name) == 1 &&
                  X509_set_pubkey(x, key.get()) == 1 &&
                  add_extension(x, x, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") &&
                  add_extension(x, x, NID_key_usage, "critical,keyCertSign,cRLSign") &&
                  add_extension(x, x, NID_subject_key_identifier, "hash") && X509_sign(x, key.get(), EVP_sha256()) > 0;
  if (!ok) return fail("cannot make the CA certificate: " + openssl_error("unknown OpenSSL error"));
  return CertificateAuthority("", std::move(cert), std::move(key));
}

Expected<CertificateAuthority, std::string> CertificateAuthority::load(const std::string& dir) {
  const std::string key_path = ca_key_path(dir), cert_path = ca_cert_path(dir);
  const bool has_key = exists(key_path), has_cert = exists(cert_path);
  if (!has_key && !has_cert) return fail("no interception CA in " + dir + ": " + init_hint(dir));
  if (!has_key || !has_cert) {
    const std::string& missing = has_key ? cert_path : key_path;
    const std::string& present = has_key ? key_path : cert_path;
    return fail(missing + " is missing but " + present +
                " exists: the CA directory is incomplete, and ferry never overwrites a CA; move " + dir + " away and " +
                init_hint(dir) + " to make a new one");
  }
  auto key = read_key(key_path);
  if (!key) return fail(key.error());
  auto cert = read_certificate(cert_path);
  if (!cert) return fail(cert.error());
  X509* x = cert->get();
  const uint32_t flags = X509_get_extension_flags(x);  // also caches the extensions
  const bool can_sign = !(flags & EXFLAG_KUSAGE) || (X509_get_key_usage(x) & KU_KEY_CERT_SIGN);
  if (!(flags & EXFLAG_CA) || !can_sign)
    return fail(cert_path + " is not a CA certificate (it needs basicConstraints CA:TRUE and keyCertSign)");
  if (X509_check_private_key(x, key->get()) != 1) {
    ERR_clear_error();
    return fail(key_path + " does not belong to the certificate in " + cert_path);
  }
  return CertificateAuthority(dir, std::move(*cert), std::move(*key));
}

Expected<CertificateAuthority, std::string> CertificateAuthority::init(const std::string& dir, bool& created) {
  created = false;
  if (dir.empty()) return fail("the CA directory name is empty");
  auto made = make_private_dirs(dir);
  if (!made) return fail(made.error());
  const std::string key_path = ca_key_path(dir), cert_path = ca_cert_path(dir);
  if (exists(key_path) || exists(cert_path)) return load(dir);

  auto ca = generate(ca_common_name(), SystemClock::now(), kCaValidity);
  if (!ca) return ca;
  std::string key_pem = key_to_pem(ca->key());
  if (key_pem.empty()) return fail("cannot encode the CA key: " + openssl_error("unknown OpenSSL error"));
  auto wrote_key = write_new_file(key_path, key_pem, 0600);
  cleanse_string(key_pem);
  if (!wrote_key) {
    // Another `ferry ca init` won the race: use its CA.
    if (exists(key_path)) return load(dir);
    return fail(wrote_key.error());
  }
  auto wrote_cert = write_new_file(cert_path, ca->certificate_pem(), 0644);
  if (!wrote_cert) {
    ::unlink(key_path.c_str());  // ours, and useless without its certificate
    return fail(wrote_cert.error());
  }
  created = true;
  ca->dir_ = dir;
  return ca;
}

Expected<bool, std::string> write_trust_bundle(const CertificateAuthority& ca, const std::string& system_bundle) {
  std::string text;
  bool with_system = false;
  if (std::ifstream in{system_bundle, std::ios::binary}) {
    std::ostringstream all;
    all << in.rdbuf();
    text = all.str();
    with_system = !text.empty();
    if (with_system && text.back() != '\n') text += '\n';
  }
  text += "# ferry interception CA, " + ca.subject() + "\n" + ca.certificate_pem();
  const std::string path = ca_bundle_path(ca.dir());
  std::string tmp = path + ".XXXXXX";
  int fd = ::mkstemp(tmp.data());
  if (fd < 0) return fail("cannot create a file next to " + path + ": " + errno_text());
  // Public data: readable by all, like /etc/ssl/certs.
  const bool ok = ::fchmod(fd, 0644) == 0 && write_all(fd, text);
  const int saved = errno;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = ok ? errno : saved;
    ::unlink(tmp.c_str());
    return fail("cannot write " + path + ": " + std::strerror(err));
  }
  return with_system;
}

Expected<std::string, std::string> default_ca_dir(const GetEnv& getenv) {
  if (auto xdg = getenv("XDG_DATA_HOME"); xdg && !xdg->empty() && xdg->front() == '/') return join(*xdg, "ferry/ca");
  if (auto home = getenv("HOME"); home && !home->empty()) return join(*home, ".local/share/ferry/ca");
  return fail("neither XDG_DATA_HOME nor HOME is set, so there is no default CA directory; use --ca-dir DIR");
}

std::vector<std::pair<std::string, std::string>> ca_environment(const std::string& dir) {
  const std::string abs = std::filesystem::absolute(dir).lexically_normal().string();
  const std::string bundle = ca_bundle_path(abs);
  return {{"SSL_CERT_FILE", bundle},
          {"REQUESTS_CA_BUNDLE", bundle},
          {"CURL_CA_BUNDLE", bundle},
          {"GIT_SSL_CAINFO", bundle},
          {"NODE_EXTRA_CA_CERTS", ca_cert_path(abs)}};
}

}  // namespace ferry
