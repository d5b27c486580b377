#include "auth/digest_auth.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <cstdio>
#include <initializer_list>

#include "base/host_port.h"
#include "base/secret.h"

namespace ferry::auth {

namespace {

std::string hex_digest(const EVP_MD* md, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), out, &len, md, nullptr);
  static constexpr char hex[] = "0123456789abcdef";
  std::string s;
  s.reserve(2 * len);  // HA1 is password-equivalent: no reallocated copy
  for (unsigned i = 0; i < len; ++i) {
    s.push_back(hex[out[i] >> 4]);
    s.push_back(hex[out[i] & 15]);
  }
  OPENSSL_cleanse(out, sizeof out);
  return s;
}

// The parts in one buffer sized up front: no reallocation or operator+
// temporary leaves a copy of a secret part behind. The caller wipes it.
std::string joined(std::initializer_list<std::string_view> parts) {
  size_t n = 0;
  for (auto p : parts) n += p.size();
  std::string s;
  s.reserve(n);
  for (auto p : parts) s.append(p);
  return s;
}

// The hex digest of the joined parts; the joined input is wiped.
std::string hex_digest_of(const EVP_MD* md, std::initializer_list<std::string_view> parts) {
  std::string in = joined(parts);
  std::string out = hex_digest(md, in);
  cleanse_string(in);
  return out;
}

const EVP_MD* digest_for(std::string_view algorithm, bool& sess) {
  std::string a = to_lower(algorithm);
  sess = a.ends_with("-sess");
  if (sess) a.resize(a.size() - 5);
  if (a == "md5") return EVP_md5();
  if (a == "sha-256") return EVP_sha256();
  return nullptr;
}

}  // namespace

std::optional<DigestChallenge> parse_digest_challenge(const Challenge& c) {
  if (c.scheme != "digest") return std::nullopt;
  DigestChallenge d;
  auto nonce = c.param("nonce");
  if (!nonce || nonce->empty()) return std::nullopt;
  d.nonce = *nonce;
  d.realm = c.param("realm").value_or("");
  d.opaque = c.param("opaque").value_or("");
  if (auto a = c.param("algorithm")) {
    d.algorithm = *a;
    for (auto& ch : d.algorithm) ch = char(std::toupper(static_cast<unsigned char>(ch)));
  }
  bool sess = false;
  if (!digest_for(d.algorithm, sess)) return std::nullopt;
  if (auto qop = c.param("qop")) {
    std::string_view q = *qop;
    while (!q.empty()) {
      auto comma = q.find(',');
      auto item = q.substr(0, comma);
      while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
      while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
      if (iequals(item, "auth")) d.qop_auth = true;
      if (comma == std::string_view::npos) break;
      q.remove_prefix(comma + 1);
    }
    if (!d.qop_auth) return std::nullopt;  // auth-int only: would need the whole body
  }
  d.stale = iequals(c.param("stale").value_or("false"), "true");
  d.userhash = iequals(c.param("userhash").value_or("false"), "true");
  return d;
}

std::string digest_credentials(const DigestChallenge& ch, std::string_view user, std::string_view password,
                               const DigestRequest& req, uint32_t nc, std::string_view cnonce) {
  bool sess = false;
  const EVP_MD* md = digest_for(ch.algorithm, sess);
  // A1 holds the password and HA1 is as good as the password: both are
  // built in single buffers and wiped (D14).
  std::string ha1 = hex_digest_of(md, {user, ":", ch.realm, ":", password});
  if (sess) {
    std::string sess_ha1 = hex_digest_of(md, {ha1, ":", ch.nonce, ":", cnonce});
    cleanse_string(ha1);
    ha1 = std::move(sess_ha1);
  }
  std::string ha2 = hex_digest_of(md, {req.method, ":", req.uri});
  char ncbuf[9];
  std::snprintf(ncbuf, sizeof ncbuf, "%08x", nc);
  std::string response = ch.qop_auth ? hex_digest_of(md, {ha1, ":", ch.nonce, ":", ncbuf, ":", cnonce, ":auth:", ha2})
                                     : hex_digest_of(md, {ha1, ":", ch.nonce, ":", ha2});
  cleanse_string(ha1);

  std::string username = ch.userhash ? hex_digest(md, std::string(user) + ":" + ch.realm) : std::string(user);
  std::string v = "Digest username=" + quoted(username) + ", realm=" + quoted(ch.realm) +
                  ", nonce=" + quoted(ch.nonce) + ", uri=" + quoted(req.uri) + ", algorithm=" + ch.algorithm +
                  ", response=" + quoted(response);
  if (!ch.opaque.empty()) v += ", opaque=" + quoted(ch.opaque);
  if (ch.qop_auth) v += ", qop=auth, nc=" + std::string(ncbuf) + ", cnonce=" + quoted(cnonce);
  if (ch.userhash) v += ", userhash=true";
  return v;
}

std::string random_cnonce() {
  unsigned char bytes[16];
  RAND_bytes(bytes, sizeof bytes);
  static constexpr char hex[] = "0123456789abcdef";
  std::string s;
  for (auto b : bytes) {
    s.push_back(hex[b >> 4]);
    s.push_back(hex[b & 15]);
  }
  return s;
}

}  // namespace ferry::auth
