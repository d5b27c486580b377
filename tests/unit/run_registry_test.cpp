// RunRegistry: ids, tokens handed out once, TTLs, revocation (remove,
// expire), hook order under concurrency, the run cap, creation rate.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "control/run_registry.h"

namespace ferry {
namespace {

using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

// What the lead's hooks will do, recorded: the live token of each run.
struct FakeProxy {
  std::mutex mutex;
  std::map<std::string, std::string> live;  // run id → token
  std::vector<std::string> revoked;
  std::vector<std::string> events;                        // "activate:ID" / "revoke:ID"
  std::vector<std::pair<std::string, std::string>> made;  // (spec.profile, run id) given to make_profile

  RunHooks hooks() {
    RunHooks h;
    h.make_profile = [this](const RunSpec& spec, const std::string& id) -> Expected<ProfilePtr> {
      if (spec.profile == "missing") return fail("unknown profile 'missing'");
      {
        std::lock_guard lock(mutex);
        made.emplace_back(spec.profile, id);
      }
      auto p = std::make_shared<Profile>();
      p->id = "run:" + id;
      return ProfilePtr(p);
    };
    h.activated = [this](const Run& run, const std::string& token) {
      std::lock_guard lock(mutex);
      live[run.id] = token;
      events.push_back("activate:" + run.id);
    };
    h.revoked = [this](const Run& run) {
      std::lock_guard lock(mutex);
      live.erase(run.id);
      revoked.push_back(run.id);
      events.push_back("revoke:" + run.id);
    };
    return h;
  }
};

RunSpec named(std::string profile, Millis ttl = Millis(0)) {
  RunSpec s;
  s.profile = std::move(profile);
  s.ttl = ttl;
  return s;
}

bool is_hex16(const std::string& s) {
  return s.size() == 16 && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

TEST(RunRegistry, CreateHandsTheTokenToTheHookAndTheCallerOnce) {
  FakeProxy proxy;
  RunRegistry registry(proxy.hooks());
  auto created = registry.create(named("ci"));
  ASSERT_TRUE(created) << created.error().message;
  const ferry::Run& run = *created->run;
  EXPECT_TRUE(is_hex16(run.id)) << run.id;
  EXPECT_EQ(run.profile_name, "ci");
  ASSERT_TRUE(run.profile);
  EXPECT_EQ(run.profile->id, "run:" + run.id);
  // make_profile saw the spec and the run's id.
  ASSERT_EQ(proxy.made.size(), 1u);
  EXPECT_EQ(proxy.made[0], (std::pair<std::string, std::string>{"ci", run.id}));
  // The token: 256 bits base64url, the same one the proxy activated, and
  // the id is not part of it.
  const std::string token(created->token.view());
  EXPECT_EQ(token.size(), 43u);
  EXPECT_EQ(proxy.live.at(run.id), token);
  EXPECT_EQ(token.find(run.id), std::string::npos);
  // Two runs: different ids and tokens.
  auto second = registry.create(named("ci"));
  ASSERT_TRUE(second);
  EXPECT_NE(second->run->id, run.id);
  EXPECT_NE(std::string(second->token.view()), token);
}

TEST(RunRegistry, TtlDefaultsToAnHourAndIsCappedAtSevenDays) {
  FakeProxy proxy;
  RunRegistry registry(proxy.hooks());
  auto before = SteadyClock::now();
  auto created = registry.create(named("ci"));
  ASSERT_TRUE(created);
  EXPECT_EQ(created->run->ttl, Millis(1h));
  EXPECT_GE(created->run->deadline, before + 1h);
  EXPECT_LE(created->run->deadline, SteadyClock::now() + 1h);
  EXPECT_EQ(created->run->expires - created->run->created, std::chrono::system_clock::duration(1h));

  auto ten = registry.create(named("ci", 10min));
  ASSERT_TRUE(ten);
  EXPECT_EQ(ten->run->ttl, Millis(10min));
  EXPECT_TRUE(registry.create(named("ci", 7 * 24h)));
  auto too_long = registry.create(named("ci", 7 * 24h + 1s));
  ASSERT_FALSE(too_long);
  EXPECT_EQ(too_long.error().kind, RunError::Kind::invalid);
  EXPECT_NE(too_long.error().message.find("ttl"), std::string::npos);
  EXPECT_EQ(registry.size(), 3u);
}

TEST(RunRegistry, GetListAndRemove) {
  FakeProxy proxy;
  RunRegistry registry(proxy.hooks());
  auto a = registry.create(named("a"));
  auto b = registry.create(named("b"));
  ASSERT_TRUE(a && b);
  auto listed = registry.list();
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[0]->profile_name, "a");  // oldest first
  EXPECT_EQ(listed[1]->profile_name, "b");
  EXPECT_EQ(registry.get(a->run->id), a->run);
  EXPECT_EQ(registry.get("0000000000000000"), nullptr);

  EXPECT_TRUE(registry.remove(a->run->id));
  EXPECT_EQ(proxy.revoked, std::vector<std::string>{a->run->id});
  EXPECT_EQ(proxy.live.count(a->run->id), 0u);  // its token no longer works
  EXPECT_EQ(registry.get(a->run->id), nullptr);
  EXPECT_FALSE(registry.remove(a->run->id));  // twice: unknown
  EXPECT_EQ(proxy.revoked.size(), 1u);
  EXPECT_EQ(registry.size(), 1u);
}

TEST(RunRegistry, ExpireRevokesRunsPastTheirTtl) {
  FakeProxy proxy;
  RunRegistry registry(proxy.hooks());
  auto short_run = registry.create(named("short", 1min));
  auto long_run = registry.create(named("long", 2h));
  ASSERT_TRUE(short_run && long_run);
  EXPECT_EQ(registry.next_expiry(), short_run->run->deadline);
  EXPECT_EQ(registry.expire(SteadyClock::now()), 0u);
  EXPECT_EQ(registry.expire(short_run->run->deadline - 1ms), 0u);
  EXPECT_EQ(registry.expire(short_run->run->deadline), 1u);
  EXPECT_EQ(proxy.revoked, std::vector<std::string>{short_run->run->id});
  EXPECT_EQ(registry.get(short_run->run->id), nullptr);
  EXPECT_NE(registry.get(long_run->run->id), nullptr);
  EXPECT_EQ(registry.next_expiry(), long_run->run->deadline);
  EXPECT_EQ(registry.expire(SteadyClock::now() + 3h), 1u);
  EXPECT_EQ(registry.size(), 0u);
  EXPECT_FALSE(registry.next_expiry());
  EXPECT_TRUE(proxy.live.empty());
}

TEST(RunRegistry, AFailedProfileRegistersNothing) {
  FakeProxy proxy;
  RunLimits limits;
  limits.max_runs = 1;
  RunRegistry registry(proxy.hooks(), limits);
  auto bad = registry.create(named("missing"));
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().kind, RunError::Kind::invalid);
  EXPECT_EQ(bad.error().message, "unknown profile 'missing'");
  EXPECT_TRUE(proxy.live.empty());
  EXPECT_EQ(registry.size(), 0u);
  // Its reserved slot was given back: the one allowed run still fits.
  EXPECT_TRUE(registry.create(named("ci")));
}

TEST(RunRegistry, TheRunCapRefusesMore) {
  FakeProxy proxy;
  RunLimits limits;
  limits.max_runs = 3;
  RunRegistry registry(proxy.hooks(), limits);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(registry.create(named("ci")));
  auto full = registry.create(named("ci"));
  ASSERT_FALSE(full);
  EXPECT_EQ(full.error().kind, RunError::Kind::full);
  EXPECT_EQ(proxy.live.size(), 3u);
  registry.remove(registry.list().front()->id);
  EXPECT_TRUE(registry.create(named("ci")));
}

// Creations and deletions from many threads: every run is activated
// exactly once, before it is revoked, and revoked exactly once.
TEST(RunRegistry, ConcurrentCreateAndRemoveKeepHookOrder) {
  FakeProxy proxy;
  RunRegistry registry(proxy.hooks());
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&registry] {
      for (int i = 0; i < 250; ++i) {
        auto c = registry.create(named("ci"));
        ASSERT_TRUE(c);
        if (i % 2 == 0) registry.remove(c->run->id);
        else registry.expire(SteadyClock::now() + 2h);  // may take other threads' runs too
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(registry.size(), 0u);
  std::map<std::string, int> state;  // 1 active, 2 revoked
  for (const auto& e : proxy.events) {
    const auto colon = e.find(':');
    const std::string kind = e.substr(0, colon), id = e.substr(colon + 1);
    if (kind == "activate") {
      EXPECT_EQ(state[id], 0) << e;
      state[id] = 1;
    } else {
      EXPECT_EQ(state[id], 1) << e;
      state[id] = 2;
    }
  }
  EXPECT_EQ(state.size(), 1000u);
  for (const auto& [id, s] : state) EXPECT_EQ(s, 2) << id;
}

// Issue 9 item 8: at least 1,000 run creations a second. Measured with
// the token, id and registry work (the hooks here are trivial); the bar is
// far below what one core does, so a loaded machine still passes.
TEST(RunRegistry, CreatesAtLeastAThousandRunsASecond) {
  RunHooks hooks;
  hooks.make_profile = [](const RunSpec&, const std::string& id) -> Expected<ProfilePtr> {
    auto p = std::make_shared<Profile>();
    p->id = "run:" + id;
    return ProfilePtr(p);
  };
  hooks.activated = [](const ferry::Run&, const std::string&) {};
  hooks.revoked = [](const ferry::Run&) {};
  RunRegistry registry(hooks);
  const int n = 5000;
  const auto start = SteadyClock::now();
  for (int i = 0; i < n; ++i) ASSERT_TRUE(registry.create(named("ci")));
  const double secs = std::chrono::duration<double>(SteadyClock::now() - start).count();
  const double rate = n / secs;
  RecordProperty("runs_per_second", int(rate));
  EXPECT_GE(rate, 1000.0);
  EXPECT_EQ(registry.size(), size_t(n));
}

TEST(RunRegistry, RunIdsAreRandomHex) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    auto id = generate_run_id();
    ASSERT_TRUE(id);
    EXPECT_TRUE(is_hex16(*id)) << *id;
    seen.insert(*id);
  }
  EXPECT_EQ(seen.size(), 1000u);
}

TEST(RunRegistry, FormatUtc) {
  EXPECT_EQ(format_utc(std::chrono::system_clock::time_point(std::chrono::seconds(1796310245))),
            "2026-12-03T15:04:05Z");
}

}  // namespace
}  // namespace ferry
