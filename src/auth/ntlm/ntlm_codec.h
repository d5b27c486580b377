#pragma once
// NTLMv2 client codec (MS-NLMP): NEGOTIATE (type 1), CHALLENGE (type 2)
// parsing, AUTHENTICATE (type 3) with an NTLMv2 response.
//
// Deliberately narrow: NTLMv2 only (never LM or NTLMv1, whose responses can
// be cracked or relayed offline), no key exchange (it needs RC4, which
// OpenSSL 3's default provider lacks), no MIC, no signing or sealing: ferry
// only authenticates HTTP connections to a proxy.
//
// No I/O and no clock or randomness: the caller passes the client challenge
// and the time, so tests can check exact bytes against MS-NLMP §4.2.4.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/expected.h"

namespace ferry::ntlm {

// NegotiateFlags (MS-NLMP 2.2.2.5).
inline constexpr uint32_t kNegotiateUnicode = 0x00000001;
inline constexpr uint32_t kNegotiateOem = 0x00000002;
inline constexpr uint32_t kRequestTarget = 0x00000004;
inline constexpr uint32_t kNegotiateSign = 0x00000010;
inline constexpr uint32_t kNegotiateSeal = 0x00000020;
inline constexpr uint32_t kNegotiateLmKey = 0x00000080;
inline constexpr uint32_t kNegotiateNtlm = 0x00000200;
inline constexpr uint32_t kNegotiateAnonymous = 0x00000800;
inline constexpr uint32_t kNegotiateAlwaysSign = 0x00008000;
inline constexpr uint32_t kTargetTypeDomain = 0x00010000;
inline constexpr uint32_t kTargetTypeServer = 0x00020000;
inline constexpr uint32_t kNegotiateExtendedSessionSecurity = 0x00080000;
inline constexpr uint32_t kNegotiateTargetInfo = 0x00800000;
inline constexpr uint32_t kNegotiateVersion = 0x02000000;
inline constexpr uint32_t kNegotiate128 = 0x20000000;
inline constexpr uint32_t kNegotiateKeyExch = 0x40000000;
inline constexpr uint32_t kNegotiate56 = 0x80000000;

// What we ask for. SIGN is included although we never sign: Apache with
// gss-ntlmssp appears to expect it. Never LM_KEY (LM crypto) and never
// KEY_EXCH (RC4).
inline constexpr uint32_t kDefaultFlags = kNegotiateUnicode | kNegotiateOem | kRequestTarget | kNegotiateSign |
                                          kNegotiateNtlm | kNegotiateAlwaysSign | kNegotiateExtendedSessionSecurity |
                                          kNegotiateTargetInfo | kNegotiateVersion | kNegotiate128 | kNegotiate56;

// AV_PAIR ids (MS-NLMP 2.2.2.1).
inline constexpr uint16_t kMsvAvEol = 0;
inline constexpr uint16_t kMsvAvNbComputerName = 1;
inline constexpr uint16_t kMsvAvNbDomainName = 2;
inline constexpr uint16_t kMsvAvDnsComputerName = 3;
inline constexpr uint16_t kMsvAvDnsDomainName = 4;
inline constexpr uint16_t kMsvAvDnsTreeName = 5;
inline constexpr uint16_t kMsvAvFlags = 6;
inline constexpr uint16_t kMsvAvTimestamp = 7;

// Reads little-endian integers and byte ranges from an untrusted buffer.
// Every access is bounds-checked and returns nullopt when out of range;
// offsets and lengths are 64-bit and compared without adding them, so a
// 32-bit wire offset near 0xffffffff cannot wrap around into the buffer.
class LeReader {
 public:
  explicit LeReader(std::string_view buf) : buf_(buf) {}

  size_t size() const { return buf_.size(); }
  // True when [offset, offset + len) lies inside the buffer.
  bool contains(uint64_t offset, uint64_t len) const { return offset <= buf_.size() && len <= buf_.size() - offset; }
  std::optional<std::string_view> bytes(uint64_t offset, uint64_t len) const;
  std::optional<uint8_t> u8(uint64_t offset) const;
  std::optional<uint16_t> u16(uint64_t offset) const;
  std::optional<uint32_t> u32(uint64_t offset) const;
  std::optional<uint64_t> u64(uint64_t offset) const;

 private:
  std::string_view buf_;
};

struct AvPair {
  uint16_t id = 0;
  std::string value;
};

struct Challenge {
  uint32_t flags = 0;
  std::array<uint8_t, 8> server_challenge{};
  std::string target_name;            // raw: UTF-16LE when flags has kNegotiateUnicode
  std::string target_info;            // the raw AV_PAIR block, MsvAvEOL included; echoed in the response
  std::vector<AvPair> av_pairs;       // target_info decoded, MsvAvEOL excluded
  std::optional<uint64_t> timestamp;  // MsvAvTimestamp, FILETIME
};

// Parses a CHALLENGE_MESSAGE (the decoded token68 of "NTLM <base64>").
// Rejects anything malformed, and any challenge we cannot answer with
// NTLMv2 (no NEGOTIATE_NTLM, or no target info).
Expected<Challenge, std::string> parse_challenge(std::string_view bytes);

// NEGOTIATE_MESSAGE: 40 bytes, the 8-byte Version field included (MS-NLMP
// 2.2.1.1; gss-ntlmssp as acceptor rejects the 32-byte form curl sends), no
// domain or workstation payload.
std::string negotiate_message(uint32_t flags = kDefaultFlags);

struct Identity {
  std::string user;         // UTF-8; "DOMAIN\user" is the caller's to split
  std::string domain;       // UTF-8; may be empty
  std::string workstation;  // UTF-8; may be empty
};

// AUTHENTICATE_MESSAGE with an NTLMv2 response (MS-NLMP 3.1.5.1.2, 3.3.2).
// `client_challenge` must be fresh random bytes; `filetime_now` is the
// current time in 100 ns ticks since 1601-01-01 UTC, used only when the
// challenge carries no MsvAvTimestamp. `requested_flags` must be what the
// NEGOTIATE_MESSAGE asked for. Fails only when a field would not fit the
// 16-bit length of the wire format.
Expected<std::string, std::string> authenticate_message(const Challenge& challenge, const Identity& identity,
                                                        std::string_view password,
                                                        std::array<uint8_t, 8> client_challenge, uint64_t filetime_now,
                                                        uint32_t requested_flags = kDefaultFlags);

// ---- Building blocks, exposed so tests can check MS-NLMP §4.2.4 exactly ----

// UTF-8 to UTF-16LE. Malformed UTF-8 (overlong forms, surrogates, code
// points past U+10FFFF, truncated sequences) becomes U+FFFD per bad byte
// rather than an error: a credential that is not UTF-8 then simply fails to
// authenticate. Callers that want a clear message check valid_utf8() first.
std::string utf16le(std::string_view utf8);
bool valid_utf8(std::string_view s);

// Like utf16le() but upper-cased first, as NTOWFv2 needs for the user name.
// Windows upper-cases with its own per-code-unit table; we cover ASCII,
// Latin-1, Latin Extended-A, basic Greek and basic Cyrillic, which is where
// user names live in practice. Others pass through unchanged (so a user name
// in another cased script must be given in upper case already).
std::string utf16le_upper(std::string_view utf8);

// NT hash: MD4(UTF-16LE(password)).
std::array<uint8_t, 16> nt_hash(std::string_view password);

// NTOWFv2 = HMAC_MD5(MD4(UTF16LE(password)), UTF16LE(Upper(user) + domain)).
// Also LMOWFv2, which MS-NLMP 3.3.2 defines to be the same.
std::array<uint8_t, 16> ntowf_v2(std::string_view password, std::string_view user, std::string_view domain);

// temp = 0x01 0x01 Z(6) Time ClientChallenge Z(4) TargetInfo Z(4).
std::string ntlmv2_temp(uint64_t time, const std::array<uint8_t, 8>& client_challenge, std::string_view target_info);

// NTProofStr = HMAC_MD5(NTOWFv2, ServerChallenge || temp).
std::array<uint8_t, 16> ntproof_str(const std::array<uint8_t, 16>& ntowf,
                                    const std::array<uint8_t, 8>& server_challenge, std::string_view temp);

// LmChallengeResponse = HMAC_MD5(LMOWFv2, ServerChallenge || ClientChallenge) || ClientChallenge.
std::array<uint8_t, 24> lmv2_response(const std::array<uint8_t, 16>& ntowf,
                                      const std::array<uint8_t, 8>& server_challenge,
                                      const std::array<uint8_t, 8>& client_challenge);

// SessionBaseKey = HMAC_MD5(NTOWFv2, NTProofStr). Unused by the codec (no
// signing or sealing) but checked against the spec as a cross-check.
std::array<uint8_t, 16> session_base_key(const std::array<uint8_t, 16>& ntowf, const std::array<uint8_t, 16>& ntproof);

}  // namespace ferry::ntlm
