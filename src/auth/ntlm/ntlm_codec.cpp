#include "auth/ntlm/ntlm_codec.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "auth/ntlm/md4.h"

namespace ferry::ntlm {

namespace {

constexpr std::string_view kSignature{"NTLMSSP\0", 8};
constexpr uint32_t kTypeNegotiate = 1;
constexpr uint32_t kTypeChallenge = 2;
constexpr uint32_t kTypeAuthenticate = 3;

// The CHALLENGE_MESSAGE fixed fields, up to and including TargetInfoFields.
// Payload may not start inside them; the optional Version field after them is
// not checked because we never read it.
constexpr uint64_t kChallengeHeader = 48;
constexpr size_t kNegotiateSize = 40;
constexpr size_t kAuthenticateHeader = 72;

// Version (MS-NLMP 2.2.2.10) is informational only. We claim 10.0 build 0 and
// NTLMSSP_REVISION_W2K3 (15), the only revision in use.
constexpr std::array<uint8_t, 8> kVersion = {10, 0, 0, 0, 0, 0, 0, 0x0f};

void put_u16(std::string& out, uint16_t v) {
  out.push_back(char(v & 0xff));
  out.push_back(char(v >> 8));
}
void put_u32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(char((v >> (8 * i)) & 0xff));
}
void put_u64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(char((v >> (8 * i)) & 0xff));
}
template <size_t N>
void put_bytes(std::string& out, const std::array<uint8_t, N>& a) {
  out.append(reinterpret_cast<const char*>(a.data()), N);
}
// A security buffer descriptor: Len, MaxLen (always equal to Len), Offset.
void put_fields(std::string& out, uint16_t len, uint32_t offset) {
  put_u16(out, len);
  put_u16(out, len);
  put_u32(out, offset);
}

void put_utf16(std::string& out, char32_t c) {
  if (c < 0x10000) {
    put_u16(out, uint16_t(c));
  } else {
    c -= 0x10000;
    put_u16(out, uint16_t(0xd800 + (c >> 10)));
    put_u16(out, uint16_t(0xdc00 + (c & 0x3ff)));
  }
}

// Decodes one code point from s[i...], advancing i. Malformed input yields
// U+FFFD and consumes exactly one byte, so decoding always makes progress.
char32_t next_code_point(std::string_view s, size_t& i, bool& ok) {
  auto b0 = static_cast<unsigned char>(s[i]);
  ok = true;
  if (b0 < 0x80) {
    ++i;
    return b0;
  }
  int extra;
  char32_t cp, min;
  if ((b0 & 0xe0) == 0xc0) {
    extra = 1, cp = b0 & 0x1f, min = 0x80;
  } else if ((b0 & 0xf0) == 0xe0) {
    extra = 2, cp = b0 & 0x0f, min = 0x800;
  } else if ((b0 & 0xf8) == 0xf0) {
    extra = 3, cp = b0 & 0x07, min = 0x10000;
  } else {
    ok = false;
    ++i;
    return 0xfffd;
  }
  if (s.size() - i <= size_t(extra)) {
    ok = false;
    ++i;
    return 0xfffd;
  }
  for (int k = 1; k <= extra; ++k) {
    auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xc0) != 0x80) {
      ok = false;
      ++i;
      return 0xfffd;
    }
    cp = (cp << 6) | (b & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
    ok = false;
    ++i;
    return 0xfffd;
  }
  i += size_t(extra) + 1;
  return cp;
}

// Simple (one code point to one code point) upper-casing for the ranges the
// header documents; the rest of Unicode passes through.
char32_t to_upper(char32_t c) {
  if (c >= 'a' && c <= 'z') return c - 0x20;
  if (c < 0xe0) return c;
  // Latin-1: à..þ except ÷; ÿ's capital lives in Latin Extended-A.
  if (c <= 0xfe) return c == 0xf7 ? c : c - 0x20;
  if (c == 0xff) return 0x178;
  // Latin Extended-A: case pairs, upper first, except where the pairing
  // shifts by one after the letters without a partner (ĸ, ŉ, Ÿ).
  if ((c >= 0x100 && c <= 0x12f) || (c >= 0x132 && c <= 0x137) || (c >= 0x14a && c <= 0x177))
    return (c & 1) ? c - 1 : c;
  if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17e)) return (c & 1) ? c : c - 1;
  // Basic Greek: α..ω (ς too), and the accented vowels.
  if (c == 0x3ac) return 0x386;
  if (c >= 0x3ad && c <= 0x3af) return c - 0x25;
  if (c >= 0x3b1 && c <= 0x3c9) return c == 0x3c2 ? 0x3a3 : c - 0x20;
  if (c == 0x3cc) return 0x38c;
  if (c == 0x3cd || c == 0x3ce) return c - 0x3f;
  // Basic Cyrillic: а..я and ѐ..џ.
  if (c >= 0x430 && c <= 0x44f) return c - 0x20;
  if (c >= 0x450 && c <= 0x45f) return c - 0x50;
  return c;
}

std::string encode_utf16le(std::string_view utf8, bool upper) {
  std::string out;
  out.reserve(utf8.size() * 2);
  for (size_t i = 0; i < utf8.size();) {
    bool ok;
    char32_t c = next_code_point(utf8, i, ok);
    put_utf16(out, upper ? to_upper(c) : c);
  }
  return out;
}

std::array<uint8_t, 16> hmac_md5(const std::array<uint8_t, 16>& key, std::string_view data) {
  std::array<uint8_t, 16> out{};
  unsigned int len = 0;
  // HMAC-MD5 is in OpenSSL 3's default provider. Should it fail anyway (a
  // FIPS-only build) the zero result makes the server refuse the login,
  // which is the honest outcome.
  if (!HMAC(EVP_md5(), key.data(), int(key.size()), reinterpret_cast<const unsigned char*>(data.data()), data.size(),
            out.data(), &len) ||
      len != out.size()) {
    out.fill(0);
  }
  return out;
}

std::string_view as_view(const std::array<uint8_t, 8>& a) {
  return {reinterpret_cast<const char*>(a.data()), a.size()};
}

struct Fields {
  uint16_t len = 0;
  uint32_t offset = 0;
};

Fields read_fields(const LeReader& r, uint64_t at) {
  // Callers have checked that the header holds these 8 bytes. MaxLen is
  // ignored, as MS-NLMP 2.2.1.2 says a receiver must.
  return {*r.u16(at), *r.u32(at + 4)};
}

// Checks a payload field and returns its bytes, or a reason naming `what`.
Expected<std::string_view, std::string> payload(const LeReader& r, Fields f, std::string_view what) {
  if (f.len == 0) return std::string_view{};
  if (f.offset < kChallengeHeader) return fail(std::string(what) + " overlaps the message header");
  auto b = r.bytes(f.offset, f.len);
  if (!b) return fail(std::string(what) + " outside the message");
  return *b;
}

Expected<bool, std::string> parse_target_info(std::string_view block, Challenge& c) {
  LeReader r(block);
  uint64_t pos = 0;
  for (;;) {
    auto id = r.u16(pos);
    auto len = r.u16(pos + 2);
    if (!id || !len) return fail("target info has no MsvAvEOL");
    auto value = r.bytes(pos + 4, *len);
    if (!value) return fail("AV pair " + std::to_string(*id) + " runs past the end of the target info");
    pos += 4 + uint64_t(*len);
    if (*id == kMsvAvEol) {
      if (*len != 0) return fail("MsvAvEOL with a non-empty value");
      // The block is echoed verbatim into the response, so bytes after the
      // terminator would be signed as if they meant something.
      if (pos != block.size()) return fail("data after MsvAvEOL in target info");
      return true;
    }
    if (*id == kMsvAvTimestamp) {
      if (*len != 8) return fail("MsvAvTimestamp is not 8 bytes");
      // Two timestamps leave it ambiguous which one the server verifies.
      if (c.timestamp) return fail("duplicate MsvAvTimestamp");
      c.timestamp = *LeReader(*value).u64(0);
    }
    c.av_pairs.push_back({*id, std::string(*value)});
  }
}

}  // namespace

std::optional<std::string_view> LeReader::bytes(uint64_t offset, uint64_t len) const {
  if (!contains(offset, len)) return std::nullopt;
  return buf_.substr(size_t(offset), size_t(len));
}

std::optional<uint8_t> LeReader::u8(uint64_t offset) const {
  if (!contains(offset, 1)) return std::nullopt;
  return static_cast<uint8_t>(buf_[size_t(offset)]);
}

std::optional<uint16_t> LeReader::u16(uint64_t offset) const {
  auto b = bytes(offset, 2);
  if (!b) return std::nullopt;
  auto p = reinterpret_cast<const uint8_t*>(b->data());
  return uint16_t(p[0] | p[1] << 8);
}

std::optional<uint32_t> LeReader::u32(uint64_t offset) const {
  auto b = bytes(offset, 4);
  if (!b) return std::nullopt;
  auto p = reinterpret_cast<const uint8_t*>(b->data());
  return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}

std::optional<uint64_t> LeReader::u64(uint64_t offset) const {
  auto lo = u32(offset);
  auto hi = u32(offset + 4);
  if (!lo || !hi) return std::nullopt;
  return uint64_t(*lo) | uint64_t(*hi) << 32;
}

Expected<Challenge, std::string> parse_challenge(std::string_view bytes) {
  LeReader r(bytes);
  auto sig = r.bytes(0, kSignature.size());
  if (!sig) return fail("NTLM challenge shorter than its signature");
  if (*sig != kSignature) return fail("not an NTLMSSP message (bad signature)");
  auto type = r.u32(8);
  if (!type) return fail("NTLM challenge truncated before its message type");
  if (*type != kTypeChallenge) return fail("NTLM message type " + std::to_string(*type) + ", expected 2 (CHALLENGE)");
  if (!r.contains(0, 32)) return fail("NTLM challenge truncated (" + std::to_string(bytes.size()) + " bytes)");

  Challenge c;
  c.flags = *r.u32(20);
  for (size_t i = 0; i < 8; ++i) c.server_challenge[i] = *r.u8(24 + i);

  // Structure before capability: a challenge whose offsets point anywhere
  // (Squid's ntlm_fake_auth sends 0xaaaaaaae) is malformed, whatever its flags.
  auto name = payload(r, read_fields(r, 12), "target name");
  if (!name) return fail("NTLM challenge: " + name.error());
  c.target_name = std::string(*name);

  if (!(c.flags & kNegotiateNtlm)) return fail("NTLM challenge does not offer NTLM authentication");
  // NTLMv2 signs the server's target info; a server that sends none only
  // speaks LM or NTLMv1, which we refuse.
  if (!(c.flags & kNegotiateTargetInfo)) return fail("NTLM challenge has no target info: the server lacks NTLMv2");
  if (!r.contains(0, kChallengeHeader)) return fail("NTLM challenge truncated before its target info fields");
  auto info = payload(r, read_fields(r, 40), "target info");
  if (!info) return fail("NTLM challenge: " + info.error());
  if (info->empty()) return fail("NTLM challenge has empty target info: the server lacks NTLMv2");
  c.target_info = std::string(*info);
  auto walked = parse_target_info(c.target_info, c);
  if (!walked) return fail("NTLM challenge: " + walked.error());
  return c;
}

std::string negotiate_message(uint32_t flags) {
  std::string m(kSignature);
  put_u32(m, kTypeNegotiate);
  put_u32(m, flags);
  // Empty DomainNameFields and WorkstationFields; their offsets point at
  // where the (absent) payload would begin, as Windows does.
  put_fields(m, 0, kNegotiateSize);
  put_fields(m, 0, kNegotiateSize);
  if (flags & kNegotiateVersion) {
    put_bytes(m, kVersion);
  } else {
    m.append(8, '\0');
  }
  return m;
}

std::string utf16le(std::string_view utf8) { return encode_utf16le(utf8, false); }
std::string utf16le_upper(std::string_view utf8) { return encode_utf16le(utf8, true); }

bool valid_utf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    bool ok;
    next_code_point(s, i, ok);
    if (!ok) return false;
  }
  return true;
}

std::array<uint8_t, 16> nt_hash(std::string_view password) {
  std::string u = utf16le(password);
  auto h = md4(u);
  OPENSSL_cleanse(u.data(), u.size());
  return h;
}

std::array<uint8_t, 16> ntowf_v2(std::string_view password, std::string_view user, std::string_view domain) {
  auto nt = nt_hash(password);
  auto out = hmac_md5(nt, utf16le_upper(user) + utf16le(domain));
  OPENSSL_cleanse(nt.data(), nt.size());
  return out;
}

std::string ntlmv2_temp(uint64_t time, const std::array<uint8_t, 8>& client_challenge, std::string_view target_info) {
  std::string t;
  t.reserve(28 + target_info.size() + 4);
  t.push_back('\x01');  // RespType
  t.push_back('\x01');  // HiRespType
  t.append(6, '\0');
  put_u64(t, time);
  put_bytes(t, client_challenge);
  t.append(4, '\0');
  t.append(target_info);
  t.append(4, '\0');
  return t;
}

std::array<uint8_t, 16> ntproof_str(const std::array<uint8_t, 16>& ntowf,
                                    const std::array<uint8_t, 8>& server_challenge, std::string_view temp) {
  std::string msg(as_view(server_challenge));
  msg.append(temp);
  return hmac_md5(ntowf, msg);
}

std::array<uint8_t, 24> lmv2_response(const std::array<uint8_t, 16>& ntowf,
                                      const std::array<uint8_t, 8>& server_challenge,
                                      const std::array<uint8_t, 8>& client_challenge) {
  std::string msg(as_view(server_challenge));
  msg.append(as_view(client_challenge));
  auto mac = hmac_md5(ntowf, msg);
  std::array<uint8_t, 24> out;
  std::copy(mac.begin(), mac.end(), out.begin());
  std::copy(client_challenge.begin(), client_challenge.end(), out.begin() + 16);
  return out;
}

std::array<uint8_t, 16> session_base_key(const std::array<uint8_t, 16>& ntowf, const std::array<uint8_t, 16>& ntproof) {
  return hmac_md5(ntowf, {reinterpret_cast<const char*>(ntproof.data()), ntproof.size()});
}

Expected<std::string, std::string> authenticate_message(const Challenge& challenge, const Identity& identity,
                                                        std::string_view password,
                                                        std::array<uint8_t, 8> client_challenge, uint64_t filetime_now,
                                                        uint32_t requested_flags) {
  uint32_t flags = challenge.flags & requested_flags;
  // Name one character set only: with both offered, MS-NLMP 3.2.5.1.1 has the
  // server use Unicode, and so do we.
  if (flags & kNegotiateUnicode) flags &= ~kNegotiateOem;
  // Belt and braces: whatever the caller asked for, never claim LM or a key
  // exchange we do not perform.
  flags &= ~(kNegotiateLmKey | kNegotiateKeyExch);

  // Without Unicode the names go as their UTF-8 bytes: we cannot know the
  // server's OEM code page, and for ASCII names they are the same.
  auto encode = [&](const std::string& s) { return (flags & kNegotiateUnicode) ? utf16le(s) : s; };
  std::string domain = encode(identity.domain);
  std::string user = encode(identity.user);
  std::string workstation = encode(identity.workstation);

  // MS-NLMP 3.1.5.1.2: with a server timestamp the client uses it as Time
  // and sends Z(24) as LmChallengeResponse.
  uint64_t time = challenge.timestamp.value_or(filetime_now);
  auto key = ntowf_v2(password, identity.user, identity.domain);
  std::string nt = ntlmv2_temp(time, client_challenge, challenge.target_info);
  auto proof = ntproof_str(key, challenge.server_challenge, nt);
  nt.insert(0, reinterpret_cast<const char*>(proof.data()), proof.size());
  std::array<uint8_t, 24> lm{};
  if (!challenge.timestamp) lm = lmv2_response(key, challenge.server_challenge, client_challenge);
  OPENSSL_cleanse(key.data(), key.size());

  for (auto [field, what] : {std::pair{&domain, "domain"},
                             {&user, "user name"},
                             {&workstation, "workstation"},
                             {&nt, "NTLMv2 response (target info too large)"}}) {
    if (field->size() > 0xffff) return fail(std::string("NTLM ") + what + " too long");
  }

  std::string m(kSignature);
  put_u32(m, kTypeAuthenticate);
  uint32_t at = kAuthenticateHeader;
  uint32_t domain_at = at;
  uint32_t user_at = domain_at + uint32_t(domain.size());
  uint32_t workstation_at = user_at + uint32_t(user.size());
  uint32_t lm_at = workstation_at + uint32_t(workstation.size());
  uint32_t nt_at = lm_at + uint32_t(lm.size());
  uint32_t end = nt_at + uint32_t(nt.size());
  put_fields(m, uint16_t(lm.size()), lm_at);
  put_fields(m, uint16_t(nt.size()), nt_at);
  put_fields(m, uint16_t(domain.size()), domain_at);
  put_fields(m, uint16_t(user.size()), user_at);
  put_fields(m, uint16_t(workstation.size()), workstation_at);
  put_fields(m, 0, end);  // EncryptedRandomSessionKey: none, no key exchange
  put_u32(m, flags);
  if (flags & kNegotiateVersion) {
    put_bytes(m, kVersion);
  } else {
    m.append(8, '\0');
  }
  m += domain;
  m += user;
  m += workstation;
  put_bytes(m, lm);
  m += nt;
  return m;
}

}  // namespace ferry::ntlm
