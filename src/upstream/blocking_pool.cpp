#include "upstream/blocking_pool.h"

namespace ferry {

BlockingPool::BlockingPool(unsigned threads, size_t max_jobs, Millis wait)
    : pool_(std::make_unique<asio::thread_pool>(threads)), max_jobs_(max_jobs), wait_(wait) {}

void BlockingPool::shutdown() {
  if (!pool_) return;
  pool_->stop();
  pool_->join();
  pool_.reset();  // destroys the calls that never started
}

bool BlockingPool::reserve() {
  size_t n = jobs_.load();
  do {
    if (n >= max_jobs_) return false;
  } while (!jobs_.compare_exchange_weak(n, n + 1));
  return true;
}

namespace detail {

ProxyError pool_full(size_t max_jobs) {
  return {
      ProxyErrc::connection_limit_reached,
      std::to_string(max_jobs) +
          " Kerberos (GSSAPI) calls are already waiting, most likely for a slow or unreachable KDC; try again later",
      503};
}

ProxyError pool_wait_expired(Millis wait) {
  return {ProxyErrc::connection_timeout,
          "no Kerberos (GSSAPI) thread became free within " + format_duration(wait) +
              ": earlier requests are still waiting for the KDC",
          504};
}

}  // namespace detail

}  // namespace ferry
