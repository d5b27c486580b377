// Inputs the fuzzers in tests/fuzz found, minimised, so each stays fixed.
#include <gtest/gtest.h>

#include <string>

#include "config/proxy_url.h"

namespace ferry {
namespace {

// fuzz_proxy_url: a "://" that is not preceded by a valid scheme (RFC 3986:
// ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )) was still taken as the end of
// one, so the "scheme" printed in the error held the password, and
// redact_userinfo masked nothing when the "://" came after the last '@'.
TEST(FuzzRegression, ProxyUrlErrorNeverHoldsAPasswordBeforeAFakeScheme) {
  const char* bad[] = {
      "alice:hunter2@proxy:3128/x://y",  // "://" after the '@'
      "alice:hunter2://x@proxy:3128",    // "://" inside the password
      "hp:oxtt/alice:hunter2@l://e6",    // the fuzzer's input
  };
  for (const char* in : bad) {
    auto u = parse_proxy_url(in);
    ASSERT_FALSE(u) << in;
    EXPECT_EQ(u.error().find("hunter2"), std::string::npos) << u.error();
    EXPECT_EQ(redact_userinfo(in).find("hunter2"), std::string::npos) << redact_userinfo(in);
  }
  // A real scheme is still named when it is unsupported.
  auto ftp = parse_proxy_url("ftp://proxy:21");
  ASSERT_FALSE(ftp);
  EXPECT_NE(ftp.error().find("unsupported scheme 'ftp'"), std::string::npos) << ftp.error();
}

}  // namespace
}  // namespace ferry
