// The NTLM CHALLENGE_MESSAGE (type 2) an upstream proxy sends, already
// base64-decoded (fuzz_base64 covers that step).
//
// Invariants for an accepted challenge: it offers NTLM and target info; the
// target name and target info are the bytes their fields point at; the AV
// pairs account for the whole target info block (4-byte headers, MsvAvEOL
// last) and the timestamp is the MsvAvTimestamp pair's value; the
// AUTHENTICATE_MESSAGE built from it succeeds (unless the target info is too
// large for the NT response's 16-bit length), starts with the signature and
// type 3, and every security buffer in its header lies inside it, the NT
// response ending with the target info echoed verbatim.
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "auth/ntlm/ntlm_codec.h"
#include "fuzz_check.h"

using namespace ferry::ntlm;

namespace {

// Security buffer at `at` of message `m`: returns its bytes, checking bounds.
std::string_view field(const LeReader& r, std::string_view m, uint64_t at) {
  auto len = r.u16(at);
  auto offset = r.u32(at + 4);
  FUZZ_CHECK(len && offset);
  FUZZ_CHECK(r.contains(*offset, *len));
  return m.substr(*offset, *len);
}

void check_authenticate(const Challenge& c) {
  const Identity id{"J\xc3\xbcrgen", "CORP", "WS"};
  auto msg = authenticate_message(c, id, "Pa55w0rd!", {1, 2, 3, 4, 5, 6, 7, 8}, 0x01d9'0000'0000'0000ull);
  // The NT response (48 bytes + target info) must fit a 16-bit length.
  const bool fits = 48 + c.target_info.size() <= 0xffff;
  FUZZ_CHECK(msg.has_value() == fits);
  if (!fits) return;
  const std::string& m = *msg;
  LeReader r(m);
  FUZZ_CHECK(r.bytes(0, 8) == std::string_view("NTLMSSP\0", 8));
  FUZZ_CHECK(r.u32(8) == 3u);
  field(r, m, 12);            // LmChallengeResponse
  auto nt = field(r, m, 20);  // NtChallengeResponse
  field(r, m, 28);            // DomainName
  FUZZ_CHECK(field(r, m, 36) == ((c.flags & kNegotiateUnicode) ? utf16le(id.user) : id.user));
  field(r, m, 44);  // Workstation
  field(r, m, 52);  // EncryptedRandomSessionKey
  // NTProofStr(16) + temp, which ends with target info and 4 zero bytes.
  FUZZ_CHECK(nt.size() == 16 + 28 + c.target_info.size() + 4);
  FUZZ_CHECK(nt.substr(16 + 28, c.target_info.size()) == c.target_info);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  std::string_view m(reinterpret_cast<const char*>(bytes), size);
  auto parsed = parse_challenge(m);
  if (!parsed) {
    FUZZ_CHECK(!parsed.error().empty());
    return 0;
  }
  const Challenge& c = *parsed;
  LeReader r(m);
  FUZZ_CHECK(c.flags == r.u32(20));
  FUZZ_CHECK((c.flags & kNegotiateNtlm) && (c.flags & kNegotiateTargetInfo));
  FUZZ_CHECK(c.target_name.empty() || c.target_name == field(r, m, 12));
  FUZZ_CHECK(c.target_info == field(r, m, 40));

  size_t accounted = 4;  // MsvAvEOL
  int stamps = 0;
  for (const auto& p : c.av_pairs) {
    FUZZ_CHECK(p.id != kMsvAvEol);
    accounted += 4 + p.value.size();
    if (p.id == kMsvAvTimestamp) {
      ++stamps;
      FUZZ_CHECK(p.value.size() == 8);
      FUZZ_CHECK(c.timestamp == LeReader(p.value).u64(0));
    }
  }
  FUZZ_CHECK(accounted == c.target_info.size());
  FUZZ_CHECK(stamps <= 1 && c.timestamp.has_value() == (stamps == 1));
  FUZZ_CHECK(c.target_info.substr(c.target_info.size() - 4) == std::string_view("\0\0\0\0", 4));

  check_authenticate(c);
  return 0;
}
