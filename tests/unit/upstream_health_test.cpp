// UpstreamHealth: the 60 s skip of failed upstreams, on a fake clock.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "upstream/upstream_health.h"

namespace ferry {
namespace {

using namespace std::chrono_literals;
using Order = std::vector<size_t>;

struct FakeClock {
  UpstreamHealth::Clock::time_point t = UpstreamHealth::Clock::time_point{} + 1000h;
  UpstreamHealth::Now fn() {
    return [this] { return t; };
  }
};

const std::vector<std::string> kKeys = {"a:1", "b:2", "c:3", "d:4"};

TEST(UpstreamHealth, HealthyKeepsConfigOrder) {
  FakeClock clock;
  UpstreamHealth h(60s, clock.fn());
  EXPECT_EQ(h.attempt_order(kKeys), (Order{0, 1, 2, 3}));
  EXPECT_EQ(h.attempt_order({}), Order{});
  EXPECT_EQ(h.attempt_order({"only"}), Order{0});
  for (const auto& k : kKeys) EXPECT_FALSE(h.is_penalised(k));
}

TEST(UpstreamHealth, FailedGoesLastFor60Seconds) {
  struct Case {
    std::vector<std::string> failed;
    Order during;
  };
  const Case cases[] = {
      {{"a:1"}, {1, 2, 3, 0}},        {{"b:2"}, {0, 2, 3, 1}},        {{"d:4"}, {0, 1, 2, 3}},
      {{"a:1", "c:3"}, {1, 3, 0, 2}}, {{"c:3", "a:1"}, {1, 3, 0, 2}},  // same instant: config order among the penalised
  };
  for (const auto& c : cases) {
    FakeClock clock;
    UpstreamHealth h(60s, clock.fn());
    for (const auto& k : c.failed) EXPECT_TRUE(h.mark_failed(k)) << k;
    EXPECT_EQ(h.attempt_order(kKeys), c.during);
    for (const auto& k : c.failed) EXPECT_TRUE(h.is_penalised(k));
    clock.t += 59s;
    EXPECT_EQ(h.attempt_order(kKeys), c.during);
    clock.t += 999ms;
    EXPECT_EQ(h.attempt_order(kKeys), c.during);
    for (const auto& k : c.failed) EXPECT_TRUE(h.is_penalised(k));
    clock.t += 1ms;  // exactly 60 s later: back
    EXPECT_EQ(h.attempt_order(kKeys), (Order{0, 1, 2, 3}));
    for (const auto& k : c.failed) EXPECT_FALSE(h.is_penalised(k));
    clock.t += 1h;
    EXPECT_EQ(h.attempt_order(kKeys), (Order{0, 1, 2, 3}));
  }
}

TEST(UpstreamHealth, PenaltyLengthIsConfigurable) {
  FakeClock clock;
  UpstreamHealth h(5s, clock.fn());
  h.mark_failed("a:1");
  clock.t += 4s;
  EXPECT_TRUE(h.is_penalised("a:1"));
  clock.t += 1s;
  EXPECT_FALSE(h.is_penalised("a:1"));
}

TEST(UpstreamHealth, AllFailedStillReturnedSoonestBackFirst) {
  FakeClock clock;
  UpstreamHealth h(60s, clock.fn());
  h.mark_failed("c:3");
  clock.t += 10s;
  h.mark_failed("a:1");
  clock.t += 10s;
  h.mark_failed("d:4");
  clock.t += 10s;
  h.mark_failed("b:2");
  EXPECT_EQ(h.attempt_order(kKeys), (Order{2, 0, 3, 1}));
  clock.t += 30s;  // c back (60 s after its failure)
  EXPECT_EQ(h.attempt_order(kKeys), (Order{2, 0, 3, 1}));
  clock.t += 1s;  // a still 9 s to go; order among penalised unchanged
  EXPECT_FALSE(h.is_penalised("c:3"));
  EXPECT_EQ(h.attempt_order(kKeys), (Order{2, 0, 3, 1}));
  clock.t += 9s;  // a back too: healthy in config order first
  EXPECT_EQ(h.attempt_order(kKeys), (Order{0, 2, 3, 1}));
  clock.t += 20s;
  EXPECT_EQ(h.attempt_order(kKeys), (Order{0, 1, 2, 3}));
}

TEST(UpstreamHealth, MarkFailedReturnsTrueOnlyForNewPenalty) {
  FakeClock clock;
  UpstreamHealth h(60s, clock.fn());
  EXPECT_TRUE(h.mark_failed("a:1"));
  EXPECT_FALSE(h.mark_failed("a:1"));
  clock.t += 30s;
  EXPECT_FALSE(h.mark_failed("a:1"));  // still down: the penalty is extended, not new
  clock.t += 59s;
  EXPECT_TRUE(h.is_penalised("a:1"));  // extended to 60 s after the last failure
  clock.t += 1s;
  EXPECT_FALSE(h.is_penalised("a:1"));
  EXPECT_TRUE(h.mark_failed("a:1"));  // expired: a new penalty
  EXPECT_TRUE(h.mark_failed("b:2"));  // independent keys
}

TEST(UpstreamHealth, MarkFailedAtClockEpoch) {
  // A clock that starts at its epoch (as a fake may): the first failure is
  // still a new penalty.
  UpstreamHealth::Clock::time_point t{};
  UpstreamHealth h(60s, [&t] { return t; });
  EXPECT_TRUE(h.mark_failed("a:1"));
  EXPECT_TRUE(h.is_penalised("a:1"));
  EXPECT_FALSE(h.mark_failed("a:1"));
}

TEST(UpstreamHealth, MarkOkClears) {
  FakeClock clock;
  UpstreamHealth h(60s, clock.fn());
  h.mark_failed("a:1");
  h.mark_failed("b:2");
  EXPECT_EQ(h.attempt_order(kKeys), (Order{2, 3, 0, 1}));
  h.mark_ok("a:1");
  EXPECT_FALSE(h.is_penalised("a:1"));
  EXPECT_TRUE(h.is_penalised("b:2"));
  EXPECT_EQ(h.attempt_order(kKeys), (Order{0, 2, 3, 1}));
  EXPECT_TRUE(h.mark_failed("a:1"));  // after mark_ok a failure starts a new penalty
  h.mark_ok("a:1");
  h.mark_ok("b:2");
  h.mark_ok("never-seen");
  EXPECT_EQ(h.attempt_order(kKeys), (Order{0, 1, 2, 3}));
}

TEST(UpstreamHealth, UnknownKeysAreHealthy) {
  FakeClock clock;
  UpstreamHealth h(60s, clock.fn());
  h.mark_failed("zzz");
  EXPECT_EQ(h.attempt_order(kKeys), (Order{0, 1, 2, 3}));
}

TEST(UpstreamHealth, FailoverCounter) {
  FakeClock clock;
  UpstreamHealth h(60s, clock.fn());
  EXPECT_EQ(h.failovers(), 0u);
  for (uint64_t i = 1; i <= 5; ++i) {
    h.count_failover();
    EXPECT_EQ(h.failovers(), i);
  }
  h.mark_failed("a:1");
  h.mark_ok("a:1");
  EXPECT_EQ(h.failovers(), 5u);  // independent of penalties
}

}  // namespace
}  // namespace ferry
