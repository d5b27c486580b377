#include "net/dns_pool.h"

#include <netdb.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <unordered_map>

#include "net/host_addresses.h"

namespace ferry {

namespace {

using Clock = std::chrono::steady_clock;

class GetaddrinfoBackend final : public DnsBackend {
 public:
  DnsResult lookup(const std::string& host) override {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    const int rc = ::getaddrinfo(host.c_str(), nullptr, &hints, &res);
    if (rc != 0)
      return Unexpected{ProxyError{ProxyErrc::dns_error, "cannot resolve host " + host + ": " + ::gai_strerror(rc)}};
    std::vector<asio::ip::address> out;
    for (const addrinfo* p = res; p; p = p->ai_next) {
      auto a = address_of(p->ai_addr);
      if (a && std::find(out.begin(), out.end(), *a) == out.end()) out.push_back(*a);
    }
    ::freeaddrinfo(res);
    if (out.empty())
      return Unexpected{ProxyError{ProxyErrc::dns_error, "cannot resolve host " + host + ": no address"}};
    return out;
  }
};

// One caller waiting for a lookup. The timer runs on the caller's executor
// and is cut short when the answer arrives.
struct Waiter {
  explicit Waiter(const asio::any_io_executor& ex) : timer(ex) {}
  asio::steady_timer timer;
  std::optional<DnsResult> result;  // written on the caller's executor only
};

std::string lowercase(std::string s) {
  for (auto& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

std::unique_ptr<DnsBackend> make_getaddrinfo_backend() { return std::make_unique<GetaddrinfoBackend>(); }

struct DnsPool::State {
  State(std::unique_ptr<DnsBackend> b, DnsPoolOptions o) : backend(std::move(b)), options(o) {}

  std::unique_ptr<DnsBackend> backend;
  const DnsPoolOptions options;

  std::mutex mu;  // guards everything below
  std::condition_variable work;
  bool stopping = false;
  std::deque<std::string> queue;
  struct Cached {
    DnsResult result;
    Clock::time_point expires;
  };
  std::unordered_map<std::string, Cached> cache;
  // Names being looked up, with who waits for each (single flight).
  std::unordered_map<std::string, std::vector<std::shared_ptr<Waiter>>> flights;

  // A fresh cached answer, or registers `w` for the name's lookup (queued
  // if none is in flight).
  std::optional<DnsResult> cached_or_wait(const std::string& host, const std::shared_ptr<Waiter>& w) {
    std::lock_guard lock(mu);
    if (auto it = cache.find(host); it != cache.end()) {
      if (it->second.expires > Clock::now()) return it->second.result;
      cache.erase(it);
    }
    auto [flight, is_new] = flights.try_emplace(host);
    flight->second.push_back(w);
    if (is_new) {
      queue.push_back(host);
      work.notify_one();
    }
    return std::nullopt;
  }

  // A caller that stops waiting (timeout, cancellation, its loop shutting
  // down) is forgotten, so no answer is ever posted to an executor that is gone.
  void forget(const std::string& host, const std::shared_ptr<Waiter>& w) {
    std::lock_guard lock(mu);
    auto it = flights.find(host);
    if (it == flights.end()) return;
    std::erase(it->second, w);
  }

  void store(const std::string& host, const DnsResult& r) {
    const auto ttl = r ? options.positive_ttl : options.negative_ttl;
    if (cache.size() >= options.max_cached_names) {
      const auto now = Clock::now();
      std::erase_if(cache, [now](const auto& e) { return e.second.expires <= now; });
      if (cache.size() >= options.max_cached_names) cache.erase(cache.begin());
    }
    cache.insert_or_assign(host, Cached{r, Clock::now() + ttl});
  }

  static void run(std::shared_ptr<State> self) {
    for (;;) {
      std::string host;
      {
        std::unique_lock lock(self->mu);
        self->work.wait(lock, [&] { return self->stopping || !self->queue.empty(); });
        if (self->stopping) return;
        host = std::move(self->queue.front());
        self->queue.pop_front();
      }
      DnsResult r = self->backend->lookup(host);
      std::lock_guard lock(self->mu);
      if (self->stopping) return;
      self->store(host, r);
      auto flight = self->flights.extract(host);
      if (flight.empty()) continue;
      // Posted under the lock: a waiter still registered has a live executor.
      for (auto& w : flight.mapped())
        asio::post(w->timer.get_executor(), [w, r] {
          w->result = r;
          w->timer.expires_at(Clock::time_point::min());
        });
    }
  }
};

DnsPool::DnsPool(std::unique_ptr<DnsBackend> backend, DnsPoolOptions options)
    : state_(std::make_shared<State>(std::move(backend), options)) {
  for (unsigned i = 0; i < std::max(1u, options.threads); ++i) std::thread(State::run, state_).detach();
}

DnsPool::~DnsPool() {
  std::lock_guard lock(state_->mu);
  state_->stopping = true;
  state_->flights.clear();
  state_->work.notify_all();
}

awaitable<DnsResult> DnsPool::resolve(const std::string& name, Millis timeout) {
  const std::string host = lowercase(name);
  auto waiter = std::make_shared<Waiter>(co_await asio::this_coro::executor);
  // Armed before registering: the answer may come before we wait, and it
  // pulls the expiry into the past.
  waiter->timer.expires_after(timeout);
  if (auto hit = state_->cached_or_wait(host, waiter)) co_return std::move(*hit);
  struct Forget {
    std::shared_ptr<State> state;
    const std::string& host;
    const std::shared_ptr<Waiter>& w;
    ~Forget() { state->forget(host, w); }
  } forget{state_, host, waiter};
  co_await waiter->timer.async_wait(nothrow_awaitable);
  if (waiter->result) co_return std::move(*waiter->result);
  co_return Unexpected{ProxyError{ProxyErrc::dns_timeout, "DNS lookup of " + name + " timed out"}};
}

}  // namespace ferry
