// D10: the waits for the KDC are bounded. off_loop() gives up on a GSSAPI
// call that cannot start in time (504, the call never runs) and refuses
// more than the pool's bound (503); RenewingCredential acquires one
// credential at a time outside its lock, serves the old one while renewing
// and makes a request wait for the KDC no longer than its limit.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "auth/basic_auth.h"
#include "auth/negotiate/renewing_credential.h"
#include "auth/proxy_authenticator.h"
#include "fake_gss.h"
#include "upstream/blocking_pool.h"

namespace ferry {
namespace {

using auth::AuthAttempt;
using auth::fake::FakeGssMechanism;
using auth::fake::StallGate;
using Clock = std::chrono::steady_clock;

bool contains(std::string_view hay, std::string_view needle) { return hay.find(needle) != std::string_view::npos; }

// Three Negotiate first tries on a one-thread pool bounded to two calls,
// while the "KDC" does not answer: the first runs (and stalls), the second
// queues and times out without running, the third is refused at once.
TEST(OffLoop, StalledKdcCallBoundsTheQueueAndTheWait) {
  BlockingPool pool(1, 2, Millis(100));
  auto gss = std::make_shared<FakeGssMechanism>();
  gss->stall = std::make_shared<StallGate>();
  auth::ProxyAuthenticator a(AuthMode::negotiate, {}, "http://proxy.example:3128",
                             auth::NegotiateSetup{gss, "HTTP@proxy.example"});
  const auth::DigestRequest req{"GET", "http://x/"};
  asio::io_context io;
  const BlockingPoolShutdownGuard pool_before_io(pool);
  AuthAttempt at1, at2, at3;
  std::optional<Expected<std::string, ProxyError>> r1, r2, r3;
  Clock::duration r2_waited{}, r3_waited{};
  auto call = [&](AuthAttempt& at, std::optional<Expected<std::string, ProxyError>>& out,
                  Clock::duration* waited) -> awaitable<void> {
    auto f = [&] { return a.first_try(req, at); };
    const auto t0 = Clock::now();
    auto r = co_await off_loop(pool, f);
    if (waited) *waited = Clock::now() - t0;
    out.emplace(std::move(r));
    if (&at == &at2) gss->stall->open();  // the KDC answers at last
  };
  asio::co_spawn(io, call(at1, r1, nullptr), asio::detached);
  asio::co_spawn(io, call(at2, r2, &r2_waited), asio::detached);
  asio::co_spawn(io, call(at3, r3, &r3_waited), asio::detached);
  io.run();

  ASSERT_TRUE(r3 && !r3->has_value());
  EXPECT_EQ(r3->error().http_status(), 503);
  EXPECT_EQ(r3->error().type, ProxyErrc::connection_limit_reached);
  EXPECT_TRUE(contains(r3->error().details, "KDC")) << r3->error().details;
  EXPECT_LT(r3_waited, std::chrono::milliseconds(50)) << "refused at once";

  ASSERT_TRUE(r2 && !r2->has_value());
  EXPECT_EQ(r2->error().http_status(), 504);
  EXPECT_TRUE(contains(r2->error().details, "waiting for the KDC")) << r2->error().details;
  EXPECT_TRUE(contains(r2->error().details, "100ms")) << r2->error().details;
  EXPECT_GE(r2_waited, std::chrono::milliseconds(100));
  EXPECT_LT(r2_waited, std::chrono::seconds(2));

  // The first call had started: it was waited for and delivered its token.
  ASSERT_TRUE(r1 && r1->has_value()) << (r1 ? r1->error().details : "no result");
  EXPECT_EQ(**r1, "Negotiate " + auth::base64_encode(FakeGssMechanism::default_token(1)));
  pool.shutdown();
  EXPECT_EQ(gss->log->starts, 1) << "the timed-out call never ran";
  EXPECT_EQ(gss->stall->entered(), 1);
}

TEST(OffLoop, CallsThatCannotBlockRunInline) {
  BlockingPool pool(1, 1, Millis(100));
  asio::io_context io;
  const BlockingPoolShutdownGuard pool_before_io(pool);
  std::thread::id ran_on;
  std::optional<Expected<int, ProxyError>> r;
  auto f = [&] {
    ran_on = std::this_thread::get_id();
    return 7;
  };
  asio::co_spawn(
      io, [&]() -> awaitable<void> { r.emplace(co_await off_loop(pool, f, false)); }, asio::detached);
  io.run();
  ASSERT_TRUE(r && r->has_value());
  EXPECT_EQ(**r, 7);
  EXPECT_EQ(ran_on, std::this_thread::get_id());
}

// ---- RenewingCredential ----

struct Cred {
  int n;
};

// An acquisition the test controls: each call waits at a gate of its own.
struct Kdc {
  std::mutex mu;
  std::vector<std::shared_ptr<StallGate>> gates;
  std::atomic<int> calls{0};
  std::atomic<bool> fail{false};
  std::shared_ptr<Clock::time_point> now =
      std::make_shared<Clock::time_point>(Clock::time_point{} + std::chrono::hours(1));

  std::shared_ptr<StallGate> gate(size_t i) {
    std::lock_guard lock(mu);
    while (gates.size() <= i) gates.push_back(std::make_shared<StallGate>());
    return gates[i];
  }
  // Owns the Kdc: acquisitions run on detached threads.
  static auto acquire_fn(const std::shared_ptr<Kdc>& kdc) {
    return [kdc]() -> Expected<auth::RenewingCredential<Cred>::Fresh, auth::GssFailure> {
      const int n = kdc->calls++;
      kdc->gate(size_t(n))->enter();
      if (kdc->fail) return Unexpected{auth::GssFailure{auth::GssCause::kdc_unreachable, "kdc down", "debug"}};
      return auth::RenewingCredential<Cred>::Fresh{std::make_shared<Cred>(Cred{n + 1}),
                                                   *kdc->now + std::chrono::minutes(10),
                                                   *kdc->now + std::chrono::minutes(20)};
    };
  }
  auto clock() {
    auto c = now;
    return [c] { return *c; };
  }
};

TEST(RenewingCredential, ConcurrentFirstUseMakesOneAcquisitionAndWaitsAtMostTheLimit) {
  auto kdc_ptr = std::make_shared<Kdc>();
  Kdc& kdc = *kdc_ptr;
  auth::RenewingCredential<Cred> rc(Kdc::acquire_fn(kdc_ptr), Millis(80), kdc.clock());
  std::vector<std::thread> threads;
  std::atomic<int> timed_out{0};
  const auto t0 = Clock::now();
  for (int i = 0; i < 6; ++i)
    threads.emplace_back([&] {
      auto c = rc.get();
      if (!c && c.error().cause == auth::GssCause::kdc_unreachable && contains(c.error().words, "80ms")) ++timed_out;
    });
  for (auto& t : threads) t.join();
  EXPECT_LT(Clock::now() - t0, std::chrono::seconds(2));
  EXPECT_EQ(timed_out, 6);
  EXPECT_EQ(rc.acquisitions(), 1) << "single-flight";
  kdc.gate(0)->open();
  // The acquisition completes in the background; the next request uses it.
  for (int i = 0; i < 100 && !rc.get(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  auto c = rc.get();
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ((*c)->n, 1);
  EXPECT_EQ(rc.acquisitions(), 1);
}

TEST(RenewingCredential, RenewsAheadOfExpiryOutsideTheLockServingTheOldOne) {
  auto kdc_ptr = std::make_shared<Kdc>();
  Kdc& kdc = *kdc_ptr;
  kdc.gate(0)->open();
  auth::RenewingCredential<Cred> rc(Kdc::acquire_fn(kdc_ptr), Millis(5'000), kdc.clock());
  auto first = rc.get();
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ((*first)->n, 1);

  // Past refresh_at (10 min), before expiry (20 min): the renewal stalls at
  // the KDC, yet every request gets the old credential at once.
  *kdc.now += std::chrono::minutes(11);
  const auto t0 = Clock::now();
  for (int i = 0; i < 5; ++i) {
    auto c = rc.get();
    ASSERT_TRUE(c.has_value());
    EXPECT_EQ((*c)->n, 1);
  }
  EXPECT_LT(Clock::now() - t0, std::chrono::seconds(1)) << "nobody waited for the stalled renewal";
  EXPECT_EQ(rc.acquisitions(), 2) << "one renewal in flight, not one per request";
  kdc.gate(1)->open();
  for (int i = 0; i < 100 && (*rc.get())->n == 1; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ((*rc.get())->n, 2);
}

TEST(RenewingCredential, FailedRenewalKeepsTheOldOneAndRetriesAfterAGap) {
  auto kdc_ptr = std::make_shared<Kdc>();
  Kdc& kdc = *kdc_ptr;
  for (size_t i = 0; i < 3; ++i) kdc.gate(i)->open();
  auth::RenewingCredential<Cred> rc(Kdc::acquire_fn(kdc_ptr), Millis(5'000), kdc.clock());
  ASSERT_TRUE(rc.get().has_value());
  kdc.fail = true;
  *kdc.now += std::chrono::minutes(11);
  EXPECT_EQ((*rc.get())->n, 1);
  for (int i = 0; i < 100 && kdc.calls < 2; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ((*rc.get())->n, 1);
  EXPECT_EQ(rc.acquisitions(), 2) << "no new try within the gap (each could count towards a lockout)";
  *kdc.now += auth::RenewingCredential<Cred>::kRetryGap;
  EXPECT_EQ((*rc.get())->n, 1);
  EXPECT_EQ(rc.acquisitions(), 3);
  // Expired with the KDC still failing: the failure, not the old credential.
  *kdc.now += std::chrono::minutes(20);
  kdc.gate(3)->open();
  for (int i = 0; i < 100 && kdc.calls < 3; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  auto gone = rc.get();
  ASSERT_FALSE(gone.has_value());
  EXPECT_EQ(gone.error().words, "kdc down");
}

}  // namespace
}  // namespace ferry
