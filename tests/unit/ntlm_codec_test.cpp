// NTLM codec: MD4 (RFC 1320 §A.5), NTLMv2 (MS-NLMP §4.2.4 vectors), message
// layout, and CHALLENGE_MESSAGE rejection of malformed input.
#include <gtest/gtest.h>

#include "auth/ntlm/md4.h"
#include "auth/ntlm/ntlm_codec.h"

namespace ferry::ntlm {
namespace {

std::string unhex(std::string_view h) {
  std::string out;
  auto nib = [](char c) { return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10; };
  for (size_t i = 0; i + 1 < h.size(); i += 2) out.push_back(char(nib(h[i]) << 4 | nib(h[i + 1])));
  return out;
}

std::string hex(std::string_view s) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    out.push_back(digits[c >> 4]);
    out.push_back(digits[c & 15]);
  }
  return out;
}

template <size_t N>
std::string hex(const std::array<uint8_t, N>& a) {
  return hex(std::string_view(reinterpret_cast<const char*>(a.data()), N));
}

void put16(std::string& s, uint16_t v) {
  s.push_back(char(v & 0xff));
  s.push_back(char(v >> 8));
}
void put32(std::string& s, uint32_t v) {
  for (int i = 0; i < 4; ++i) s.push_back(char((v >> (8 * i)) & 0xff));
}
void set32(std::string& s, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) s[at + i] = char((v >> (8 * i)) & 0xff);
}
void set16(std::string& s, size_t at, uint16_t v) {
  s[at] = char(v & 0xff);
  s[at + 1] = char(v >> 8);
}

// ---- MD4, RFC 1320 appendix A.5 ----

TEST(Md4, Rfc1320Vectors) {
  EXPECT_EQ(hex(md4("")), "31d6cfe0d16ae931b73c59d7e0c089c0");
  EXPECT_EQ(hex(md4("a")), "bde52cb31de33e46245e05fbdbd6fb24");
  EXPECT_EQ(hex(md4("abc")), "a448017aaf21d8525fc10ae87aa6729d");
  EXPECT_EQ(hex(md4("message digest")), "d9130a8164549fe818874806e1c7014b");
  EXPECT_EQ(hex(md4("abcdefghijklmnopqrstuvwxyz")), "d79e1c308aa5bbcdeea8ed63df412da9");
  EXPECT_EQ(hex(md4("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")),
            "043f8582f241db351ce627e153e7f0e4");
  EXPECT_EQ(hex(md4("12345678901234567890123456789012345678901234567890123456789012345678901234567890")),
            "e33b4ddc9c38f2199c3e7b164fcc0536");
}

TEST(Md4, PaddingBoundaries) {
  // 55 bytes fits the length in one block, 56 needs a second: exercise both
  // paths and a multi-block input; each result must differ and be stable.
  std::string a(55, 'x'), b(56, 'x'), c(64, 'x'), d(119, 'x');
  EXPECT_NE(md4(a), md4(b));
  EXPECT_NE(md4(b), md4(c));
  EXPECT_EQ(md4(d), md4(std::string(119, 'x')));
  // The NT hash of "password" is a widely published value.
  EXPECT_EQ(hex(nt_hash("password")), "8846f7eaee8fb117ad06bdd830b7586c");
}

// ---- UTF-16LE ----

TEST(NtlmUtf16, EncodesNonAscii) {
  EXPECT_EQ(hex(utf16le("Ab")), "41006200");
  EXPECT_EQ(hex(utf16le("\xc3\xa9")), "e900");              // é
  EXPECT_EQ(hex(utf16le("\xe2\x82\xac")), "ac20");          // €
  EXPECT_EQ(hex(utf16le("\xf0\x9f\x98\x80")), "3dd800de");  // U+1F600, a surrogate pair
  EXPECT_TRUE(valid_utf8("J\xc3\xbcrgen"));
}

TEST(NtlmUtf16, MalformedBecomesReplacementCharacter) {
  for (std::string_view bad : {"\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xe2\x82", "\xff"}) {
    EXPECT_FALSE(valid_utf8(bad)) << hex(bad);
    auto u = utf16le(bad);
    EXPECT_EQ(hex(u.substr(0, 2)), "fdff") << hex(bad);
  }
  EXPECT_EQ(hex(utf16le("\xe2\x82"
                        "a")),
            "fdfffdff6100");
}

TEST(NtlmUtf16, UpperCasesAsciiLatin1AndMore) {
  EXPECT_EQ(utf16le_upper("user"), utf16le("USER"));
  EXPECT_EQ(utf16le_upper("j\xc3\xbcrgen"), utf16le("J\xc3\x9cRGEN"));        // ü -> Ü
  EXPECT_EQ(utf16le_upper("\xc3\xbf"), utf16le("\xc5\xb8"));                  // ÿ -> Ÿ
  EXPECT_EQ(utf16le_upper("\xc3\xb7\xc3\x9f"), utf16le("\xc3\xb7\xc3\x9f"));  // ÷ and ß unchanged
  EXPECT_EQ(utf16le_upper("\xc5\x82"
                          "\xc5\xbe"),
            utf16le("\xc5\x81"
                    "\xc5\xbd"));  // ł ž -> Ł Ž
  EXPECT_EQ(utf16le_upper("\xd0\xb8\xd0\xb2\xd0\xb0\xd0\xbd"), utf16le("\xd0\x98\xd0\x92\xd0\x90\xd0\x9d"));  // иван
  EXPECT_EQ(utf16le_upper("\xce\xb1\xcf\x82"), utf16le("\xce\x91\xce\xa3"));  // ας -> ΑΣ
}

// ---- MS-NLMP §4.2.4 (NTLMv2) ----

const std::array<uint8_t, 8> kServerChallenge = {0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef};
const std::array<uint8_t, 8> kClientChallenge = {0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa};

// §4.2.4: MsvAvNbDomainName "Domain", MsvAvNbComputerName "Server", MsvAvEOL.
const std::string kTargetInfo = unhex(
    "02000c0044006f006d00610069006e00"
    "01000c0053006500720076006500720000000000");

// §4.2.4.3 CHALLENGE_MESSAGE, 104 bytes.
const std::string kSpecChallenge = unhex(
    "4e544c4d53535000020000000c000c003800000033828ae20123456789abcdef"
    "00000000000000002400240044000000060070170000000f5300650072007600"
    "6500720002000c0044006f006d00610069006e0001000c005300650072007600"
    "6500720000000000");

// §4.2.4.3 AUTHENTICATE_MESSAGE, from the DomainNameFields (offset 12) to the
// end of the NtChallengeResponse (0xd8); the spec's EncryptedRandomSessionKey
// (a key exchange we do not do) is left out.
const std::string kSpecAuthenticate = unhex(
    "4e544c4d5353500003000000180018006c00000054005400840000000c000c00"
    "480000000800080054000000100010005c00000010001000d8000000358288e2"
    "0501280a0000000f44006f006d00610069006e00550073006500720043004f00"
    "4d0050005500540045005200"
    "86c35097ac9cec102554764a57cccc19aaaaaaaaaaaaaaaa"
    "68cd0ab851e51c96aabc927bebef6a1c"
    "01010000000000000000000000000000aaaaaaaaaaaaaaaa00000000"
    "02000c0044006f006d00610069006e0001000c00530065007200760065007200"
    "0000000000000000");

TEST(NtlmV2, SpecVectors) {
  auto key = ntowf_v2("Password", "User", "Domain");
  EXPECT_EQ(hex(key), "0c868a403bfd7a93a3001ef22ef02e3f");  // §4.2.4.1.1
  // Only the user name is upper-cased.
  EXPECT_EQ(ntowf_v2("Password", "USER", "Domain"), key);
  EXPECT_NE(ntowf_v2("Password", "User", "DOMAIN"), key);

  EXPECT_EQ(hex(lmv2_response(key, kServerChallenge, kClientChallenge)),
            "86c35097ac9cec102554764a57cccc19aaaaaaaaaaaaaaaa");  // §4.2.4.2.1

  auto temp = ntlmv2_temp(0, kClientChallenge, kTargetInfo);
  EXPECT_EQ(hex(temp),
            "01010000000000000000000000000000aaaaaaaaaaaaaaaa00000000" + hex(kTargetInfo) + "00000000");  // §4.2.4.1.3
  auto proof = ntproof_str(key, kServerChallenge, temp);
  EXPECT_EQ(hex(proof), "68cd0ab851e51c96aabc927bebef6a1c");                         // §4.2.4.2.2
  EXPECT_EQ(hex(session_base_key(key, proof)), "8de40ccadbc14a82f15cb0ad0de95ca3");  // §4.2.4.1.2
}

TEST(NtlmV2, SpecChallengeParses) {
  auto c = parse_challenge(kSpecChallenge);
  ASSERT_TRUE(c) << c.error();
  EXPECT_EQ(c->flags, 0xe28a8233u);
  EXPECT_EQ(c->server_challenge, kServerChallenge);
  EXPECT_EQ(c->target_name, utf16le("Server"));
  EXPECT_EQ(c->target_info, kTargetInfo);
  ASSERT_EQ(c->av_pairs.size(), 2u);
  EXPECT_EQ(c->av_pairs[0].id, kMsvAvNbDomainName);
  EXPECT_EQ(c->av_pairs[0].value, utf16le("Domain"));
  EXPECT_EQ(c->av_pairs[1].id, kMsvAvNbComputerName);
  EXPECT_EQ(c->av_pairs[1].value, utf16le("Server"));
  EXPECT_FALSE(c->timestamp);
}

TEST(NtlmV2, AuthenticateMatchesSpecMessage) {
  auto c = parse_challenge(kSpecChallenge);
  ASSERT_TRUE(c) << c.error();
  auto m = authenticate_message(*c, {"User", "Domain", "COMPUTER"}, "Password", kClientChallenge, 0);
  ASSERT_TRUE(m) << m.error();
  ASSERT_EQ(m->size(), 0xd8u);
  // Signature, type and the LM, NT, domain, user and workstation descriptors
  // match the spec byte for byte; our session key descriptor is empty.
  EXPECT_EQ(hex(m->substr(0, 52)), hex(kSpecAuthenticate.substr(0, 52)));
  EXPECT_EQ(hex(m->substr(52, 8)), "00000000d8000000");
  // Flags: the challenge's, ANDed with ours, Unicode chosen over OEM.
  EXPECT_EQ(*LeReader(*m).u32(60), 0xa2888211u);
  EXPECT_EQ(hex(m->substr(64, 8)), "0a0000000000000f");
  // The payload: names, LMv2 response, NTLMv2 response, exactly as the spec.
  EXPECT_EQ(hex(m->substr(72)), hex(kSpecAuthenticate.substr(72)));
}

// ---- NEGOTIATE_MESSAGE ----

TEST(NtlmNegotiate, FortyBytesWithVersion) {
  auto m = negotiate_message();
  ASSERT_EQ(m.size(), 40u);
  EXPECT_EQ(m.substr(0, 8), std::string("NTLMSSP\0", 8));
  LeReader r(m);
  EXPECT_EQ(*r.u32(8), 1u);
  uint32_t f = *r.u32(12);
  EXPECT_EQ(f, kDefaultFlags);
  EXPECT_EQ(f, 0xa2888217u);
  for (uint32_t want :
       {kNegotiateUnicode, kNegotiateOem, kRequestTarget, kNegotiateSign, kNegotiateNtlm, kNegotiateAlwaysSign,
        kNegotiateExtendedSessionSecurity, kNegotiateTargetInfo, kNegotiateVersion, kNegotiate128, kNegotiate56}) {
    EXPECT_TRUE(f & want) << std::hex << want;
  }
  EXPECT_FALSE(f & kNegotiateLmKey);
  EXPECT_FALSE(f & kNegotiateKeyExch);
  EXPECT_FALSE(f & kNegotiateSeal);
  // Empty domain and workstation, pointing at the end of the message.
  EXPECT_EQ(hex(m.substr(16, 16)), "00000000280000000000000028000000");
  EXPECT_EQ(m[39], '\x0f');  // NTLMSSP_REVISION_W2K3
  EXPECT_EQ(hex(negotiate_message(kDefaultFlags & ~kNegotiateVersion).substr(32)), "0000000000000000");
}

// ---- AUTHENTICATE_MESSAGE layout ----

struct Field {
  uint16_t len, max_len;
  uint32_t offset;
};

Field field_at(const std::string& m, size_t at) {
  LeReader r(m);
  return {*r.u16(at), *r.u16(at + 2), *r.u32(at + 4)};
}

// A challenge from a server that sends a timestamp and a DNS name.
std::string challenge_with(std::string_view target_info, uint32_t flags = 0xe28a8235u) {
  std::string m("NTLMSSP\0", 8);
  put32(m, 2);
  std::string name = utf16le("SRV");
  uint32_t name_at = 56;
  uint32_t info_at = name_at + uint32_t(name.size());
  put16(m, uint16_t(name.size()));
  put16(m, uint16_t(name.size()));
  put32(m, name_at);
  put32(m, flags);
  m.append(reinterpret_cast<const char*>(kServerChallenge.data()), 8);
  m.append(8, '\0');
  put16(m, uint16_t(target_info.size()));
  put16(m, uint16_t(target_info.size()));
  put32(m, info_at);
  m.append(unhex("0a0063450000000f"));
  m += name;
  m += target_info;
  return m;
}

std::string av(uint16_t id, std::string_view value) {
  std::string s;
  put16(s, id);
  put16(s, uint16_t(value.size()));
  s += value;
  return s;
}

const std::string kStamp = unhex("0011223344556677");  // 0x7766554433221100

TEST(NtlmAuthenticate, LayoutFieldsInsideAndDecodeBack) {
  std::string info = av(kMsvAvNbDomainName, utf16le("CORP")) + av(kMsvAvDnsComputerName, utf16le("srv.corp")) +
                     av(kMsvAvTimestamp, kStamp) + av(kMsvAvEol, "");
  auto c = parse_challenge(challenge_with(info));
  ASSERT_TRUE(c) << c.error();
  ASSERT_TRUE(c->timestamp);
  EXPECT_EQ(*c->timestamp, 0x7766554433221100u);

  Identity id{"J\xc3\xbcrgen", "CORP", "WS-\xc3\xa9"};
  auto m = authenticate_message(*c, id, "p\xc3\xa4ss", kClientChallenge, 0x0123456789abcdefu);
  ASSERT_TRUE(m) << m.error();
  ASSERT_GE(m->size(), 72u);
  EXPECT_EQ(m->substr(0, 8), std::string("NTLMSSP\0", 8));
  LeReader r(*m);
  EXPECT_EQ(*r.u32(8), 3u);
  uint32_t flags = *r.u32(60);
  EXPECT_EQ(flags, (0xe28a8235u & kDefaultFlags));
  EXPECT_FALSE(flags & kNegotiateKeyExch);

  // LM, NT, domain, user, workstation, session key.
  std::vector<std::string> values;
  uint32_t expect_at = 72;
  for (size_t at : {12u, 20u, 28u, 36u, 44u, 52u}) {
    Field f = field_at(*m, at);
    EXPECT_EQ(f.len, f.max_len);
    ASSERT_TRUE(r.contains(f.offset, f.len)) << "field at " << at;
    EXPECT_GE(f.offset, 72u);
    values.push_back(std::string(*r.bytes(f.offset, f.len)));
  }
  // Payload is contiguous, in the spec's order: domain, user, workstation, LM, NT.
  for (size_t at : {28u, 36u, 44u, 12u, 20u}) {
    Field f = field_at(*m, at);
    EXPECT_EQ(f.offset, expect_at) << at;
    expect_at += f.len;
  }
  EXPECT_EQ(expect_at, m->size());
  EXPECT_EQ(field_at(*m, 52).offset, m->size());

  EXPECT_EQ(values[0], std::string(24, '\0'));  // MsvAvTimestamp: Z(24), MS-NLMP 3.1.5.1.2
  EXPECT_EQ(values[2], utf16le("CORP"));
  EXPECT_EQ(values[3], utf16le("J\xc3\xbcrgen"));
  EXPECT_EQ(values[4], utf16le("WS-\xc3\xa9"));
  EXPECT_TRUE(values[5].empty());

  // The NTLMv2 response: the server's timestamp, not ours, and its target info.
  const std::string& nt = values[1];
  auto key = ntowf_v2("p\xc3\xa4ss", id.user, id.domain);
  auto temp = ntlmv2_temp(0x7766554433221100u, kClientChallenge, info);
  EXPECT_EQ(hex(nt.substr(16)), hex(temp));
  auto proof = ntproof_str(key, kServerChallenge, temp);
  EXPECT_EQ(hex(nt.substr(0, 16)), hex(proof));
}

TEST(NtlmAuthenticate, NoTimestampUsesOurTimeAndLmv2) {
  auto c = parse_challenge(challenge_with(av(kMsvAvNbDomainName, utf16le("D")) + av(kMsvAvEol, "")));
  ASSERT_TRUE(c) << c.error();
  auto m = authenticate_message(*c, {"u", "D", ""}, "pw", kClientChallenge, 0x0123456789abcdefu);
  ASSERT_TRUE(m) << m.error();
  LeReader r(*m);
  Field lm = field_at(*m, 12), nt = field_at(*m, 20);
  auto key = ntowf_v2("pw", "u", "D");
  auto want_lm = lmv2_response(key, kServerChallenge, kClientChallenge);
  EXPECT_EQ(hex(*r.bytes(lm.offset, lm.len)), hex(want_lm));
  EXPECT_EQ(hex(r.bytes(nt.offset, nt.len)->substr(24, 8)), "efcdab8967452301");
  EXPECT_EQ(field_at(*m, 44).len, 0);  // empty workstation
}

TEST(NtlmAuthenticate, OemWhenServerRefusesUnicode) {
  auto c = parse_challenge(challenge_with(av(kMsvAvEol, ""), 0xe28a8236u & ~kNegotiateUnicode));
  ASSERT_TRUE(c) << c.error();
  auto m = authenticate_message(*c, {"user", "DOM", "WS"}, "pw", kClientChallenge, 0);
  ASSERT_TRUE(m) << m.error();
  LeReader r(*m);
  EXPECT_FALSE(*r.u32(60) & kNegotiateUnicode);
  EXPECT_TRUE(*r.u32(60) & kNegotiateOem);
  Field user = field_at(*m, 36);
  EXPECT_EQ(*r.bytes(user.offset, user.len), "user");
}

TEST(NtlmAuthenticate, OverlongFieldIsAnError) {
  auto c = parse_challenge(kSpecChallenge);
  ASSERT_TRUE(c);
  auto m = authenticate_message(*c, {std::string(40000, 'u'), "", ""}, "pw", kClientChallenge, 0);
  ASSERT_FALSE(m);
  EXPECT_NE(m.error().find("user name too long"), std::string::npos);
}

// ---- CHALLENGE_MESSAGE rejection ----

void expect_rejected(const std::string& bytes, std::string_view reason) {
  auto c = parse_challenge(bytes);
  ASSERT_FALSE(c) << "accepted " << hex(bytes);
  EXPECT_NE(c.error().find(reason), std::string::npos) << c.error();
}

TEST(NtlmChallenge, RejectsEveryTruncation) {
  for (size_t n = 0; n < kSpecChallenge.size(); ++n) {
    EXPECT_FALSE(parse_challenge(kSpecChallenge.substr(0, n))) << n;
  }
}

TEST(NtlmChallenge, RejectsWrongSignatureAndType) {
  std::string m = kSpecChallenge;
  m[0] = 'X';
  expect_rejected(m, "bad signature");
  m = kSpecChallenge;
  set32(m, 8, 1);
  expect_rejected(m, "type 1");
  set32(m, 8, 3);
  expect_rejected(m, "type 3");
}

TEST(NtlmChallenge, RejectsOffsetsPastTheEnd) {
  std::string m = kSpecChallenge;
  set32(m, 16, 0xaaaaaaae);
  expect_rejected(m, "target name outside the message");
  m = kSpecChallenge;
  set32(m, 44, 0xaaaaaaae);
  expect_rejected(m, "target info outside the message");
  m = kSpecChallenge;
  set16(m, 40, 0x25);  // one byte too long
  expect_rejected(m, "target info outside the message");
}

TEST(NtlmChallenge, RejectsLengthOverflow) {
  std::string m = kSpecChallenge;
  set16(m, 12, 0xffff);
  set32(m, 16, 0xffffffff);
  expect_rejected(m, "target name outside the message");
  m = kSpecChallenge;
  set16(m, 40, 0xffff);
  set32(m, 44, 0xffffffff);
  expect_rejected(m, "target info outside the message");
  // And the reader itself, directly.
  LeReader r(m);
  EXPECT_FALSE(r.contains(0xffffffffu, 0xffff));
  EXPECT_FALSE(r.contains(UINT64_MAX, 2));
  EXPECT_FALSE(r.contains(1, UINT64_MAX));
  EXPECT_FALSE(r.u32(m.size() - 3));
  EXPECT_TRUE(r.u32(m.size() - 4));
  EXPECT_TRUE(r.contains(m.size(), 0));
}

TEST(NtlmChallenge, RejectsPayloadInsideTheHeader) {
  std::string m = kSpecChallenge;
  set32(m, 16, 0);
  expect_rejected(m, "target name overlaps the message header");
}

TEST(NtlmChallenge, RejectsBadAvPairs) {
  expect_rejected(challenge_with(av(kMsvAvNbDomainName, "abcd")), "no MsvAvEOL");
  // A pair whose length runs past the block (though not past the message).
  std::string runs = av(kMsvAvNbDomainName, "ab") + av(kMsvAvEol, "");
  set16(runs, 2, 8);
  expect_rejected(challenge_with(runs), "runs past the end of the target info");
  // A truncated pair header.
  expect_rejected(challenge_with(av(kMsvAvNbDomainName, "ab") + std::string("\x00", 1)), "no MsvAvEOL");
  expect_rejected(challenge_with(av(kMsvAvEol, "") + av(kMsvAvNbDomainName, "ab")), "data after MsvAvEOL");
  expect_rejected(challenge_with(av(kMsvAvEol, "x")), "non-empty");
  expect_rejected(challenge_with(av(kMsvAvTimestamp, kStamp) + av(kMsvAvTimestamp, kStamp) + av(kMsvAvEol, "")),
                  "duplicate MsvAvTimestamp");
  expect_rejected(challenge_with(av(kMsvAvTimestamp, "1234") + av(kMsvAvEol, "")), "not 8 bytes");
}

TEST(NtlmChallenge, RejectsNoTargetInfo) {
  std::string m = kSpecChallenge;
  set32(m, 20, 0xe28a8233u & ~kNegotiateTargetInfo);
  expect_rejected(m, "no target info");
  m = kSpecChallenge;
  set16(m, 40, 0);
  set16(m, 42, 0);
  expect_rejected(m, "empty target info");
  // A 32-byte, pre-NTLMv2 challenge that claims target info.
  expect_rejected(kSpecChallenge.substr(0, 32).replace(12, 8, std::string(8, '\0')),
                  "truncated before its target info");
}

TEST(NtlmChallenge, RejectsNoNtlm) {
  std::string m = kSpecChallenge;
  set32(m, 20, 0xe28a8233u & ~kNegotiateNtlm);
  expect_rejected(m, "does not offer NTLM");
}

// Squid 5.7's ntlm_fake_auth answers with a 49-byte type 2 whose TargetName
// offset is 0xaaaaaaae and with no TargetInfo header.
TEST(NtlmChallenge, RejectsSquidFakeAuth) {
  std::string m("NTLMSSP\0", 8);
  put32(m, 2);
  put16(m, 2);
  put16(m, 2);
  put32(m, 0xaaaaaaae);
  put32(m, kNegotiateUnicode | kNegotiateNtlm | kNegotiateAlwaysSign);
  m.append(reinterpret_cast<const char*>(kServerChallenge.data()), 8);
  expect_rejected(m, "target name outside the message");  // the 32-byte header alone
  m.append(17, '\0');
  ASSERT_EQ(m.size(), 49u);
  expect_rejected(m, "target name outside the message");
  set32(m, 20, kDefaultFlags);  // even with flags we could use
  expect_rejected(m, "target name outside the message");
}

}  // namespace
}  // namespace ferry::ntlm
