// ferry's Via identity and loop detection.
#include "http/via.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

namespace ferry::http {
namespace {

std::vector<HeaderField> via_fields(const std::vector<std::string_view>& values) {
  std::vector<HeaderField> f;
  for (auto v : values) f.push_back({"Via", v});
  return f;
}

TEST(Via, Value) {
  Via via("abc");
  EXPECT_EQ(via.received_by(), "ferry-abc");
  EXPECT_EQ(via.value(1), "1.1 ferry-abc");
  EXPECT_EQ(via.value(0), "1.0 ferry-abc");
}

TEST(Via, RandomPseudonymsDifferAndAreHex) {
  std::set<std::string> seen;
  for (int i = 0; i < 20; ++i) {
    auto v = Via::random();
    const auto& by = v.received_by();
    ASSERT_EQ(by.rfind("ferry-", 0), 0u) << by;
    auto p = by.substr(6);
    EXPECT_GE(p.size(), 8u) << "pseudonym too short to be unguessable";
    for (char c : p) EXPECT_TRUE((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) << by;
    seen.insert(by);
  }
  EXPECT_EQ(seen.size(), 20u);
}

struct SeenCase {
  const char* name;
  std::vector<HeaderField> fields;
  bool seen;
};

class ViaSeenIn : public testing::TestWithParam<SeenCase> {};

TEST_P(ViaSeenIn, Detects) {
  Via via("abc");
  EXPECT_EQ(via.seen_in(GetParam().fields), GetParam().seen);
}

INSTANTIATE_TEST_SUITE_P(
    All, ViaSeenIn,
    testing::Values(SeenCase{"NoFields", {}, false}, SeenCase{"OnlyOwn", via_fields({"1.1 ferry-abc"}), true},
                    SeenCase{"Http10Own", via_fields({"1.0 ferry-abc"}), true},
                    SeenCase{"ProtocolNameForm", via_fields({"HTTP/1.1 ferry-abc"}), true},
                    SeenCase{"FirstOfList", via_fields({"1.1 ferry-abc, 1.1 squid"}), true},
                    SeenCase{"LastOfList", via_fields({"1.0 fred, 1.1 p.example.net, 1.1 ferry-abc"}), true},
                    SeenCase{"SecondLine", via_fields({"1.1 squid", "1.1 ferry-abc"}), true},
                    SeenCase{"FirstOfSeveralLines", via_fields({"1.1 ferry-abc", "1.1 squid"}), true},
                    SeenCase{"WithComment", via_fields({"1.1 ferry-abc (ferry/0.1)"}), true},
                    SeenCase{"WithCommentInList", via_fields({"1.1 a (x), 1.1 ferry-abc (y), 1.1 b"}), true},
                    SeenCase{"TabSeparated", via_fields({"1.1\tferry-abc"}), true},
                    SeenCase{"ExtraSpaces", via_fields({"1.1   ferry-abc   ,1.1 b"}), true},
                    SeenCase{"UpperCase", via_fields({"1.1 FERRY-ABC"}), true},
                    SeenCase{"MixedCaseFieldName", std::vector<HeaderField>{{"vIA", "1.1 ferry-abc"}}, true},
                    SeenCase{"LongerPseudonym", via_fields({"1.1 ferry-abcd"}), false},
                    SeenCase{"ShorterPseudonym", via_fields({"1.1 ferry-ab"}), false},
                    SeenCase{"PrefixedPseudonym", via_fields({"1.1 xferry-abc"}), false},
                    SeenCase{"WithPort", via_fields({"1.1 ferry-abc:3128"}), false},
                    SeenCase{"OtherFerry", via_fields({"1.1 ferry-def"}), false},
                    SeenCase{"OtherProxies", via_fields({"1.1 squid, 1.0 fred", "1.1 proxy.example:8080 (Apache)"}),
                             false},
                    SeenCase{"OnlyInComment", via_fields({"1.1 squid (ferry-abc)"}), false},
                    SeenCase{"NoProtocol", via_fields({"ferry-abc-other"}), false},
                    SeenCase{"OtherFieldName", std::vector<HeaderField>{{"X-Via", "1.1 ferry-abc"}}, false},
                    SeenCase{"EmptyVia", via_fields({""}), false}),
    [](const testing::TestParamInfo<SeenCase>& i) { return std::string(i.param.name); });

}  // namespace
}  // namespace ferry::http
