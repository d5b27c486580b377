#pragma once
// The threads that run GSSAPI calls (they may wait for the KDC), and
// off_loop(), which runs one such call without stalling an event loop.
//
// Bounded twice (D10): at most `max_jobs` calls queued or running (more get
// 503 at once instead of queueing behind a dead KDC), and a caller waits at
// most `wait` for its call to *start*; then it gets 504 naming the KDC wait.
// A call that has started cannot be abandoned (it borrows the caller's
// state), so its own KDC waits are bounded where they happen: MitNegotiate
// waits for a credential acquisition at most `wait` too (single-flight,
// serving the old credential while a renewal runs).
#include <atomic>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/experimental/concurrent_channel.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <memory>
#include <mutex>
#include <optional>
#include <type_traits>

#include "base/duration.h"
#include "base/expected.h"
#include "base/proxy_error.h"
#include "net/asio.h"

namespace ferry {

class BlockingPool {
 public:
  explicit BlockingPool(unsigned threads = 4, size_t max_jobs = 64, Millis wait = Millis(10'000));
  ~BlockingPool() { shutdown(); }
  BlockingPool(const BlockingPool&) = delete;
  BlockingPool& operator=(const BlockingPool&) = delete;

  // Lets running calls finish and drops the queued ones. Call it while the
  // io_contexts of the callers still exist (see run_serve): a dropped call
  // releases its caller's state, which belongs to those io_contexts.
  void shutdown();

  void set_wait(Millis wait) { wait_ = wait; }
  Millis wait() const { return wait_; }
  size_t max_jobs() const { return max_jobs_; }
  // A slot for one more call, or false when `max_jobs` are in.
  bool reserve();
  void release() { jobs_.fetch_sub(1); }
  asio::thread_pool::executor_type executor() { return pool_->get_executor(); }

 private:
  std::unique_ptr<asio::thread_pool> pool_;
  const size_t max_jobs_;
  Millis wait_;
  std::atomic<size_t> jobs_{0};
};

// Declared after the io_contexts whose coroutines call off_loop, it shuts
// the pool down before they die, on every return path. A call's state holds
// a channel of its caller's io_context, and the pool thread that ran it may
// still hold that state after the caller resumed and the io_context ran
// out of work; destroying it after the io_context reads freed memory.
class BlockingPoolShutdownGuard {
 public:
  explicit BlockingPoolShutdownGuard(BlockingPool& pool) : pool_(pool) {}
  ~BlockingPoolShutdownGuard() { pool_.shutdown(); }
  BlockingPoolShutdownGuard(const BlockingPoolShutdownGuard&) = delete;
  BlockingPoolShutdownGuard& operator=(const BlockingPoolShutdownGuard&) = delete;

 private:
  BlockingPool& pool_;
};

namespace detail {

// off_loop's result: Expected<T, ProxyError> stays as it is, any other R
// becomes Expected<R, ProxyError>.
template <class R>
struct OffLoopResult {
  using type = Expected<R, ProxyError>;
};
template <class T>
struct OffLoopResult<Expected<T, ProxyError>> {
  using type = Expected<T, ProxyError>;
};

ProxyError pool_full(size_t max_jobs);
ProxyError pool_wait_expired(Millis wait);

template <class R>
struct OffLoopJob {
  explicit OffLoopJob(const asio::any_io_executor& ex) : done(ex, 1) {}
  enum class Phase { queued, running, finished, abandoned };
  std::mutex mu;
  Phase phase = Phase::queued;
  std::optional<R> result;
  asio::experimental::concurrent_channel<void(error_code)> done;
};

}  // namespace detail

// Runs `f()` on the pool and resumes on the caller's executor, so a slow
// KDC never stalls an event loop; with `may_block` false (no GSSAPI
// involved) it just calls `f` here. `f` is borrowed: it runs only if it
// starts before the wait expires, and the caller then waits for it to end.
template <class F>
awaitable<typename detail::OffLoopResult<std::invoke_result_t<F&>>::type> off_loop(BlockingPool& pool, F& f,
                                                                                   bool may_block = true) {
  using R = std::invoke_result_t<F&>;
  using Job = detail::OffLoopJob<R>;
  if (!may_block) co_return f();
  if (!pool.reserve()) co_return Unexpected{detail::pool_full(pool.max_jobs())};
  auto job = std::make_shared<Job>(co_await asio::this_coro::executor);
  asio::post(pool.executor(), [job, &f, &pool] {
    {
      std::lock_guard lock(job->mu);
      if (job->phase == Job::Phase::abandoned) {
        pool.release();
        return;  // the caller has gone: `f` may dangle
      }
      job->phase = Job::Phase::running;
    }
    R r = f();
    {
      std::lock_guard lock(job->mu);
      job->result.emplace(std::move(r));
      job->phase = Job::Phase::finished;
    }
    pool.release();
    job->done.try_send(error_code{});
  });
  using namespace asio::experimental::awaitable_operators;
  asio::steady_timer timer(co_await asio::this_coro::executor, pool.wait());
  auto first = co_await (job->done.async_receive(nothrow_awaitable) || timer.async_wait(nothrow_awaitable));
  bool wait_more = false;
  if (first.index() == 1) {
    std::lock_guard lock(job->mu);
    if (job->phase == Job::Phase::queued) {
      job->phase = Job::Phase::abandoned;
      co_return Unexpected{detail::pool_wait_expired(pool.wait())};
    }
    // Started: `f` borrows this frame, so wait for it to end (its own waits
    // are bounded). Finished already: its signal may have been consumed.
    wait_more = job->phase == Job::Phase::running;
  }
  if (wait_more) co_await job->done.async_receive(nothrow_awaitable);
  std::lock_guard lock(job->mu);
  co_return std::move(*job->result);
}

}  // namespace ferry
