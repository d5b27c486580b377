#include "aws/sigv4.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <ctime>

namespace ferry::aws {

namespace {

using Digest = std::array<unsigned char, 32>;

std::string hex(const unsigned char* p, size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(n * 2, '0');
  for (size_t i = 0; i < n; ++i) {
    out[2 * i] = kDigits[p[i] >> 4];
    out[2 * i + 1] = kDigits[p[i] & 15];
  }
  return out;
}

Digest hmac(std::string_view key, std::string_view data) {
  Digest out{};
  unsigned int len = 0;
  // One-shot HMAC() cannot fail for SHA-256 with the default provider; a
  // failure would leave a zero digest, which the service refuses (403).
  HMAC(EVP_sha256(), key.data(), int(key.size()), reinterpret_cast<const unsigned char*>(data.data()), data.size(),
       out.data(), &len);
  return out;
}

std::string_view as_view(const Digest& d) { return {reinterpret_cast<const char*>(d.data()), d.size()}; }

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = char(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Trimmed, inner runs of spaces and tabs collapsed to one space.
std::string canonical_value(std::string_view v) {
  std::string out;
  bool space = false;
  for (char c : v) {
    if (c == ' ' || c == '\t') {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

struct CanonicalHeaders {
  std::string block;         // "name:value\n" lines
  std::string signed_names;  // "a;b;c"
};

CanonicalHeaders canonical_headers(const SigningRequest& req, const HeaderList& extra) {
  std::vector<std::pair<std::string, std::string>> all;
  bool has_host = false;
  for (const auto* list : {&req.headers, &extra})
    for (const auto& [name, value] : *list) {
      all.emplace_back(lower(name), canonical_value(value));
      has_host = has_host || all.back().first == "host";
    }
  if (!has_host) all.emplace_back("host", canonical_value(req.host));
  // Stable: repeated names keep their order when joined.
  std::stable_sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  CanonicalHeaders out;
  for (size_t i = 0; i < all.size(); ++i) {
    if (i > 0 && all[i].first == all[i - 1].first) {
      out.block.back() = ',';  // replaces the previous line's '\n'
      out.block += all[i].second + '\n';
      continue;
    }
    if (!out.signed_names.empty()) out.signed_names += ';';
    out.signed_names += all[i].first;
    out.block += all[i].first + ':' + all[i].second + '\n';
  }
  return out;
}

std::string canonical_query(const SigningRequest& req) {
  std::vector<std::pair<std::string, std::string>> enc;
  enc.reserve(req.query.size());
  for (const auto& [k, v] : req.query) enc.emplace_back(uri_encode(k, true), uri_encode(v, true));
  std::sort(enc.begin(), enc.end());
  std::string out;
  for (const auto& [k, v] : enc) {
    if (!out.empty()) out += '&';
    out += k + '=' + v;
  }
  return out;
}

std::string date_stamp(std::string_view amz) { return std::string(amz.substr(0, 8)); }

std::string canonical_request_with(const SigningRequest& req, const CanonicalHeaders& h) {
  std::string out;
  out += req.method;
  out += '\n';
  out += uri_encode(req.path.empty() ? std::string_view("/") : req.path, false);
  out += '\n';
  out += canonical_query(req);
  out += '\n';
  out += h.block;
  out += '\n';
  out += h.signed_names;
  out += '\n';
  out += sha256_hex(req.payload);
  return out;
}

}  // namespace

std::string sha256_hex(std::string_view data) {
  Digest d{};
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), d.data());
  return hex(d.data(), d.size());
}

std::string uri_encode(std::string_view s, bool encode_slash) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || (c == '/' && !encode_slash)) {
      out += ch;
    } else {
      out += '%';
      out += kDigits[c >> 4];
      out += kDigits[c & 15];
    }
  }
  return out;
}

std::string amz_date(std::chrono::system_clock::time_point t) {
  const std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

std::string sigv4_canonical_request(const SigningRequest& req, const HeaderList& extra_signed) {
  return canonical_request_with(req, canonical_headers(req, extra_signed));
}

HeaderList sigv4_sign(const SigningRequest& req, const SigningScope& scope, const AwsCredentials& creds,
                      std::chrono::system_clock::time_point now) {
  HeaderList added;
  const std::string date = amz_date(now);
  added.emplace_back("X-Amz-Date", date);
  if (!creds.session_token.empty()) added.emplace_back("X-Amz-Security-Token", std::string(creds.session_token.view()));

  const CanonicalHeaders h = canonical_headers(req, added);
  const std::string credential_scope = date_stamp(date) + '/' + scope.region + '/' + scope.service + "/aws4_request";
  const std::string string_to_sign =
      "AWS4-HMAC-SHA256\n" + date + '\n' + credential_scope + '\n' + sha256_hex(canonical_request_with(req, h));

  // kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request")
  std::string first_key = "AWS4";
  first_key += creds.secret_access_key.view();
  Digest k = hmac(first_key, date_stamp(date));
  cleanse_string(first_key);
  for (std::string_view part :
       {std::string_view(scope.region), std::string_view(scope.service), std::string_view("aws4_request")}) {
    const Digest next = hmac(as_view(k), part);
    OPENSSL_cleanse(k.data(), k.size());
    k = next;
  }
  const Digest signature = hmac(as_view(k), string_to_sign);
  OPENSSL_cleanse(k.data(), k.size());

  added.emplace_back("Authorization", "AWS4-HMAC-SHA256 Credential=" + creds.access_key_id + '/' + credential_scope +
                                          ", SignedHeaders=" + h.signed_names +
                                          ", Signature=" + hex(signature.data(), signature.size()));
  return added;
}

}  // namespace ferry::aws
