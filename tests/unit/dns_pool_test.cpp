// The shared resolver: a stalled name holds neither other names nor its
// callers beyond their timeout; one lookup per name; answers are cached.
#include "net/dns_pool.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <map>
#include <mutex>

namespace ferry {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// Answers 192.0.2.7 for every name but "missing.test"; "slow.test" blocks
// until release().
class StallingBackend final : public DnsBackend {
 public:
  DnsResult lookup(const std::string& host) override {
    std::unique_lock lock(mu_);
    ++calls_[host];
    if (host == "slow.test") cv_.wait(lock, [this] { return released_; });
    if (host == "missing.test") return Unexpected{ProxyError{ProxyErrc::dns_error, "cannot resolve host " + host}};
    return std::vector<asio::ip::address>{asio::ip::make_address("192.0.2.7")};
  }
  void release() {
    std::lock_guard lock(mu_);
    released_ = true;
    cv_.notify_all();
  }
  int calls(const std::string& host) {
    std::lock_guard lock(mu_);
    return calls_[host];
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool released_ = false;
  std::map<std::string, int> calls_;
};

struct Lookup {
  std::optional<DnsResult> result;
  Clock::duration took{};
};

void start(asio::io_context& io, DnsResolver& r, std::string host, Millis timeout, Lookup& out) {
  asio::co_spawn(
      io,
      [&r, host, timeout, &out]() -> awaitable<void> {
        const auto t0 = Clock::now();
        auto res = co_await r.resolve(host, timeout);
        out.took = Clock::now() - t0;
        out.result.emplace(std::move(res));
      },
      asio::detached);
}

// Runs the loop until `done()` or `limit` passes.
template <class Done>
void run_until(asio::io_context& io, Done done, Clock::duration limit = 3s) {
  const auto until = Clock::now() + limit;
  while (!done() && Clock::now() < until) {
    if (io.stopped()) io.restart();  // it stops whenever it runs out of work
    io.run_one_for(20ms);
  }
}

class DnsPoolTest : public ::testing::Test {
 protected:
  void make(DnsPoolOptions o = {}) {
    auto b = std::make_unique<StallingBackend>();
    backend = b.get();
    pool = std::make_unique<DnsPool>(std::move(b), o);
  }
  void TearDown() override {
    if (backend) backend->release();  // lets the stalled pool thread finish
    pool.reset();
  }
  asio::io_context io;
  StallingBackend* backend = nullptr;
  std::unique_ptr<DnsPool> pool;
};

TEST_F(DnsPoolTest, StalledNameDoesNotDelayAnother) {
  make();
  Lookup slow, fast;
  start(io, *pool, "slow.test", 10s, slow);
  run_until(io, [&] { return backend->calls("slow.test") == 1; });
  start(io, *pool, "fast.test", 10s, fast);
  run_until(io, [&] { return fast.result.has_value(); });
  ASSERT_TRUE(fast.result.has_value()) << "fast.test waited behind slow.test";
  ASSERT_TRUE(*fast.result);
  EXPECT_EQ((*fast.result)->front().to_string(), "192.0.2.7");
  EXPECT_LT(fast.took, 500ms);
  EXPECT_FALSE(slow.result.has_value()) << "slow.test is still stalled";
  backend->release();
  run_until(io, [&] { return slow.result.has_value(); });
  ASSERT_TRUE(slow.result.has_value());
  EXPECT_TRUE(*slow.result);
}

TEST_F(DnsPoolTest, CallerTimeoutDoesNotWaitForTheLookup) {
  make();
  Lookup slow;
  start(io, *pool, "slow.test", 100ms, slow);
  run_until(io, [&] { return slow.result.has_value(); });
  ASSERT_TRUE(slow.result.has_value());
  ASSERT_FALSE(*slow.result);
  EXPECT_EQ(slow.result->error().type, ProxyErrc::dns_timeout);
  EXPECT_LT(slow.took, 1s);
  // The lookup goes on detached and fills the cache for the next caller.
  backend->release();
  Lookup again;
  const auto until = Clock::now() + 3s;
  while (Clock::now() < until) {
    again = {};
    start(io, *pool, "slow.test", 10s, again);
    run_until(io, [&] { return again.result.has_value(); });
    if (again.result && *again.result) break;
  }
  ASSERT_TRUE(again.result && *again.result);
  EXPECT_EQ(backend->calls("slow.test"), 1);
}

TEST_F(DnsPoolTest, OneLookupPerNameAndCached) {
  make();
  Lookup a, b;
  start(io, *pool, "slow.test", 10s, a);
  start(io, *pool, "SLOW.test", 10s, b);
  run_until(io, [&] { return backend->calls("slow.test") == 1; });
  io.restart();
  io.run_for(50ms);
  backend->release();
  run_until(io, [&] { return a.result.has_value() && b.result.has_value(); });
  ASSERT_TRUE(a.result && *a.result);
  ASSERT_TRUE(b.result && *b.result);
  Lookup c;
  start(io, *pool, "slow.test", 10s, c);
  run_until(io, [&] { return c.result.has_value(); });
  ASSERT_TRUE(c.result && *c.result);
  EXPECT_EQ(backend->calls("slow.test"), 1);
}

TEST_F(DnsPoolTest, NegativeAnswersExpireSooner) {
  DnsPoolOptions o;
  o.positive_ttl = 10s;
  o.negative_ttl = 100ms;
  make(o);
  auto resolve = [&](const char* host) {
    Lookup l;
    start(io, *pool, host, 2s, l);
    run_until(io, [&] { return l.result.has_value(); });
    return l;
  };
  auto miss = resolve("missing.test");
  ASSERT_TRUE(miss.result && !*miss.result);
  EXPECT_EQ(miss.result->error().type, ProxyErrc::dns_error);
  resolve("missing.test");
  resolve("found.test");
  resolve("found.test");
  EXPECT_EQ(backend->calls("missing.test"), 1);
  std::this_thread::sleep_for(150ms);
  resolve("missing.test");
  resolve("found.test");
  EXPECT_EQ(backend->calls("missing.test"), 2) << "negative entry expired";
  EXPECT_EQ(backend->calls("found.test"), 1) << "positive entry still fresh";
}

TEST(GetaddrinfoBackend, ResolvesLocalhostAndReportsUnknownNames) {
  auto b = make_getaddrinfo_backend();
  auto r = b->lookup("localhost");
  ASSERT_TRUE(r);
  for (const auto& a : *r) EXPECT_TRUE(a.is_loopback()) << a.to_string();
  auto bad = b->lookup("no-such-name.invalid");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().type, ProxyErrc::dns_error);
}

}  // namespace
}  // namespace ferry
