// CertificateAuthority: the certificate it makes (checked with OpenSSL),
// the files and modes of `ca init`, keeping an existing CA, and every way
// `load` refuses a directory (each message naming the file and the fix).
#include "intercept/certificate_authority.h"

#include <gtest/gtest.h>
#include <openssl/bn.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

namespace ferry {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

bool contains(std::string_view hay, std::string_view needle) { return hay.find(needle) != std::string_view::npos; }

mode_t mode_of(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

int serial_bits(X509* cert) {
  BIGNUM* bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr);
  const int bits = BN_num_bits(bn);
  EXPECT_FALSE(BN_is_negative(bn));
  BN_free(bn);
  return bits;
}

class CaDir : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ferry_ca_test_XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    dir_ = root_ + "/data/ferry/ca";
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }
  CertificateAuthority make() {
    bool created = false;
    auto ca = CertificateAuthority::init(dir_, created);
    EXPECT_TRUE(ca) << (ca ? "" : ca.error());
    EXPECT_TRUE(created);
    return std::move(*ca);
  }
  std::string root_, dir_;
};

TEST(CertificateAuthority, GeneratedCertificateIsAConstrainedP256Ca) {
  const auto now = SystemClock::now();
  auto ca = CertificateAuthority::generate("ferry interception CA (test)", now, 24h * 3653);
  ASSERT_TRUE(ca) << ca.error();
  X509* x = ca->certificate();

  EXPECT_EQ(EVP_PKEY_get_base_id(ca->key()), EVP_PKEY_EC);
  char group[64] = {};
  size_t len = 0;
  ASSERT_EQ(EVP_PKEY_get_group_name(ca->key(), group, sizeof group, &len), 1);
  EXPECT_STREQ(group, "prime256v1");

  const uint32_t flags = X509_get_extension_flags(x);
  EXPECT_TRUE(flags & EXFLAG_CA);
  EXPECT_TRUE(flags & EXFLAG_SS);  // self-signed
  EXPECT_EQ(X509_get_pathlen(x), 0);
  EXPECT_EQ(X509_get_key_usage(x), uint32_t(KU_KEY_CERT_SIGN | KU_CRL_SIGN));
  EXPECT_NE(X509_get0_subject_key_id(x), nullptr);
  for (int nid : {NID_basic_constraints, NID_key_usage}) {
    int crit = -1;
    void* ext = X509_get_ext_d2i(x, nid, &crit, nullptr);
    EXPECT_EQ(crit, 1) << OBJ_nid2sn(nid);
    if (nid == NID_basic_constraints) BASIC_CONSTRAINTS_free(static_cast<BASIC_CONSTRAINTS*>(ext));
    else ASN1_BIT_STRING_free(static_cast<ASN1_BIT_STRING*>(ext));
  }
  EXPECT_EQ(ca->subject(), "O = ferry, CN = ferry interception CA (test)");
  EXPECT_EQ(X509_verify(x, ca->key()), 1);

  const int bits = serial_bits(x);
  EXPECT_LE(bits, 128);
  EXPECT_GT(bits, 64);  // 128 random bits: fewer than 65 has probability 2^-64

  // Backdated an hour; valid for the whole span asked for.
  const auto not_before = to_time_point(X509_get0_notBefore(x));
  EXPECT_LE(std::chrono::abs(not_before - (now - 1h)), 2s);
  EXPECT_LE(std::chrono::abs(ca->not_after_time() - (now + 24h * 3653)), 2s);
  EXPECT_FALSE(ca->validity_problem(now));

  // The fingerprint in openssl's notation, and the PEM round-trips.
  const std::string fp = ca->sha256_fingerprint();
  EXPECT_EQ(fp.size(), 32u * 3 - 1);
  for (size_t i = 2; i < fp.size(); i += 3) EXPECT_EQ(fp[i], ':');
  EXPECT_EQ(fp.find_first_of("abcdef"), std::string::npos);
  BIO* bio = BIO_new_mem_buf(ca->certificate_pem().data(), int(ca->certificate_pem().size()));
  X509* again = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(X509_cmp(again, x), 0);
  X509_free(again);
}

TEST(CertificateAuthority, ValidityProblems) {
  const auto now = SystemClock::now();
  auto old = CertificateAuthority::generate("old", now - 48h, 24h);
  ASSERT_TRUE(old);
  auto problem = old->validity_problem(now);
  ASSERT_TRUE(problem);
  EXPECT_TRUE(contains(*problem, "expired")) << *problem;
  auto future = CertificateAuthority::generate("future", now + 48h, 24h);
  ASSERT_TRUE(future);
  ASSERT_TRUE(future->validity_problem(now));
  EXPECT_TRUE(contains(*future->validity_problem(now), "not valid before"));
}

TEST_F(CaDir, InitMakesPrivateDirectoriesAndKeyWhateverTheUmask) {
  const mode_t old = ::umask(0);  // the widest: modes must not depend on it
  bool created = false;
  auto ca = CertificateAuthority::init(dir_, created);
  ::umask(old);
  ASSERT_TRUE(ca) << ca.error();
  EXPECT_TRUE(created);
  EXPECT_EQ(mode_of(root_ + "/data"), 0700u);
  EXPECT_EQ(mode_of(root_ + "/data/ferry"), 0700u);
  EXPECT_EQ(mode_of(dir_), 0700u);
  EXPECT_EQ(mode_of(ca_key_path(dir_)), 0600u);
  EXPECT_EQ(ca->dir(), dir_);
  EXPECT_TRUE(contains(ca->subject(), "CN = ferry interception CA ("));
  // Ten years.
  EXPECT_GT(ca->not_after_time(), SystemClock::now() + 24h * 3650);
  EXPECT_EQ(read_text(ca_cert_path(dir_)), ca->certificate_pem());
  EXPECT_TRUE(contains(read_text(ca_key_path(dir_)), "-----BEGIN PRIVATE KEY-----"));
}

TEST_F(CaDir, SecondInitKeepsTheCa) {
  auto first = make();
  const std::string key = read_text(ca_key_path(dir_));
  bool created = true;
  auto second = CertificateAuthority::init(dir_, created);
  ASSERT_TRUE(second) << second.error();
  EXPECT_FALSE(created);
  EXPECT_EQ(second->sha256_fingerprint(), first.sha256_fingerprint());
  EXPECT_EQ(read_text(ca_key_path(dir_)), key);
  auto loaded = CertificateAuthority::load(dir_);
  ASSERT_TRUE(loaded) << loaded.error();
  EXPECT_EQ(loaded->sha256_fingerprint(), first.sha256_fingerprint());
  EXPECT_EQ(EVP_PKEY_eq(loaded->key(), first.key()), 1);
}

TEST_F(CaDir, HalfMadeDirectoryIsAnErrorNamingTheMissingFileAndIsNotTouched) {
  make();
  const std::string key = read_text(ca_key_path(dir_));
  fs::remove(ca_cert_path(dir_));
  bool created = true;
  auto r = CertificateAuthority::init(dir_, created);
  ASSERT_FALSE(r);
  EXPECT_FALSE(created);
  EXPECT_TRUE(contains(r.error(), ca_cert_path(dir_) + " is missing")) << r.error();
  EXPECT_FALSE(fs::exists(ca_cert_path(dir_)));
  EXPECT_EQ(read_text(ca_key_path(dir_)), key);

  // The other way round: a certificate without its key.
  auto other = CertificateAuthority::generate("x", SystemClock::now(), 24h);
  ASSERT_TRUE(other);
  write_text(ca_cert_path(dir_), other->certificate_pem());
  fs::remove(ca_key_path(dir_));
  r = CertificateAuthority::init(dir_, created);
  ASSERT_FALSE(r);
  EXPECT_TRUE(contains(r.error(), ca_key_path(dir_) + " is missing")) << r.error();
  EXPECT_FALSE(fs::exists(ca_key_path(dir_)));
}

TEST_F(CaDir, MissingCaSaysHowToMakeOne) {
  for (const std::string& dir : {dir_, root_}) {  // no directory; a directory without the files
    auto r = CertificateAuthority::load(dir);
    ASSERT_FALSE(r);
    EXPECT_TRUE(contains(r.error(), "run 'ferry ca init --ca-dir " + dir + "'")) << r.error();
  }
}

TEST_F(CaDir, KeyReadableByOthersIsRefused) {
  make();
  for (mode_t mode : {0640, 0604, 0660}) {
    ASSERT_EQ(::chmod(ca_key_path(dir_).c_str(), mode), 0);
    auto r = CertificateAuthority::load(dir_);
    ASSERT_FALSE(r) << std::oct << mode;
    EXPECT_TRUE(contains(r.error(), ca_key_path(dir_))) << r.error();
    EXPECT_TRUE(contains(r.error(), "chmod 600")) << r.error();
    EXPECT_FALSE(contains(r.error(), "PRIVATE KEY")) << r.error();
  }
  ASSERT_EQ(::chmod(ca_key_path(dir_).c_str(), 0400), 0);
  EXPECT_TRUE(CertificateAuthority::load(dir_));
}

TEST_F(CaDir, GarbageCertificateIsRefused) {
  make();
  write_text(ca_cert_path(dir_), "this is not a certificate\n");
  auto r = CertificateAuthority::load(dir_);
  ASSERT_FALSE(r);
  EXPECT_TRUE(contains(r.error(), ca_cert_path(dir_) + ": not a PEM certificate")) << r.error();
}

TEST_F(CaDir, GarbageKeyIsRefusedWithoutEchoingIt) {
  make();
  ASSERT_EQ(::chmod(ca_key_path(dir_).c_str(), 0600), 0);
  write_text(ca_key_path(dir_), "-----BEGIN PRIVATE KEY-----\nc2VjcmV0\n-----END PRIVATE KEY-----\n");
  auto r = CertificateAuthority::load(dir_);
  ASSERT_FALSE(r);
  EXPECT_TRUE(contains(r.error(), ca_key_path(dir_))) << r.error();
  EXPECT_FALSE(contains(r.error(), "c2VjcmV0")) << r.error();
}

TEST_F(CaDir, KeyOfAnotherCaIsRefused) {
  make();
  auto other = CertificateAuthority::generate("other", SystemClock::now(), 24h);
  ASSERT_TRUE(other);
  write_text(ca_cert_path(dir_), other->certificate_pem());
  auto r = CertificateAuthority::load(dir_);
  ASSERT_FALSE(r);
  EXPECT_TRUE(contains(r.error(), ca_key_path(dir_) + " does not belong to the certificate in " + ca_cert_path(dir_)))
      << r.error();
}

TEST_F(CaDir, CertificateThatIsNotACaIsRefused) {
  auto ca = make();
  // A certificate for the same key without CA:TRUE.
  X509* x = X509_new();
  X509_set_version(x, X509_VERSION_3);
  ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
  X509_gmtime_adj(X509_getm_notBefore(x), 0);
  X509_gmtime_adj(X509_getm_notAfter(x), 3600);
  X509_set_pubkey(x, ca.key());
  X509_set_issuer_name(x, X509_get_subject_name(x));
  ASSERT_TRUE(add_extension(x, x, NID_basic_constraints, "critical,CA:FALSE"));
  ASSERT_GT(X509_sign(x, ca.key(), EVP_sha256()), 0);
  write_text(ca_cert_path(dir_), certificate_to_pem(x));
  X509_free(x);
  auto r = CertificateAuthority::load(dir_);
  ASSERT_FALSE(r);
  EXPECT_TRUE(contains(r.error(), ca_cert_path(dir_) + " is not a CA certificate")) << r.error();
}

TEST_F(CaDir, TrustBundleIsTheSystemBundleThenTheCa) {
  auto ca = make();
  auto system_ca = CertificateAuthority::generate("stand-in system root", SystemClock::now(), 24h);
  ASSERT_TRUE(system_ca);
  const std::string system_bundle = root_ + "/system.crt";
  write_text(system_bundle, system_ca->certificate_pem());

  auto wrote = write_trust_bundle(ca, system_bundle);
  ASSERT_TRUE(wrote) << wrote.error();
  EXPECT_TRUE(*wrote);
  EXPECT_EQ(mode_of(ca_bundle_path(dir_)), 0644u);
  std::vector<std::string> fingerprints;
  BIO* bio = BIO_new_file(ca_bundle_path(dir_).c_str(), "r");
  ASSERT_NE(bio, nullptr);
  while (X509* x = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) {
    fingerprints.push_back(sha256_fingerprint(x));
    X509_free(x);
  }
  BIO_free(bio);
  EXPECT_EQ(fingerprints, (std::vector<std::string>{system_ca->sha256_fingerprint(), ca.sha256_fingerprint()}));

  // No system bundle: the CA alone, and the caller is told.
  wrote = write_trust_bundle(ca, root_ + "/absent.crt");
  ASSERT_TRUE(wrote);
  EXPECT_FALSE(*wrote);
  EXPECT_EQ(read_text(ca_bundle_path(dir_)).find("BEGIN CERTIFICATE"),
            read_text(ca_bundle_path(dir_)).rfind("BEGIN CERTIFICATE"));
}

TEST(CertificateAuthority, DefaultDirectory) {
  auto env = [](std::map<std::string, std::string> vars) -> GetEnv {
    return [vars](const std::string& name) -> std::optional<std::string> {
      auto it = vars.find(name);
      if (it == vars.end()) return std::nullopt;
      return it->second;
    };
  };
  EXPECT_EQ(*default_ca_dir(env({{"XDG_DATA_HOME", "/x/data"}, {"HOME", "/home/u"}})), "/x/data/ferry/ca");
  EXPECT_EQ(*default_ca_dir(env({{"XDG_DATA_HOME", "relative"}, {"HOME", "/home/u"}})),
            "/home/u/.local/share/ferry/ca");
  EXPECT_EQ(*default_ca_dir(env({{"XDG_DATA_HOME", ""}, {"HOME", "/home/u/"}})), "/home/u/.local/share/ferry/ca");
  auto none = default_ca_dir(env({}));
  ASSERT_FALSE(none);
  EXPECT_TRUE(contains(none.error(), "--ca-dir"));
}

TEST(CertificateAuthority, EnvironmentPointsReplacingVariablesAtTheBundle) {
  auto vars = ca_environment("/d/ca");
  std::map<std::string, std::string> m(vars.begin(), vars.end());
  EXPECT_EQ(m.size(), 5u);
  for (const char* name : {"SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "GIT_SSL_CAINFO"})
    EXPECT_EQ(m[name], "/d/ca/bundle.pem") << name;
  EXPECT_EQ(m["NODE_EXTRA_CA_CERTS"], "/d/ca/ca.pem");
  // Relative directories become absolute: the variables outlive the cwd.
  for (const auto& [name, value] : ca_environment("rel/ca")) EXPECT_EQ(value.front(), '/') << name;
}

}  // namespace
}  // namespace ferry
