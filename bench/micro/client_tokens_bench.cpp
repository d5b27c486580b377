// What a client token costs per request and per run (issue 9 §8: run
// creation >= 1,000/s): ClientTokenStore::find with 10,000 live tokens (a
// hit, a miss, and two threads at once, as two workers), add and remove of
// a run's token, and reading the token out of a Proxy-Authorization value.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "auth/basic_auth.h"
#include "auth/client_tokens.h"
#include "auth/token_generator.h"

namespace {

using ferry::ClientTokenStore;
using ferry::TokenOwner;
using Clock = std::chrono::steady_clock;

constexpr int kLiveTokens = 10'000;

std::shared_ptr<TokenOwner> run_owner(size_t n) {
  auto o = std::make_shared<TokenOwner>();
  o->id = "run:" + std::to_string(n);
  o->expires = Clock::now() + std::chrono::hours(1);
  return o;
}

// One store for every benchmark, filled once (shared by the threaded run).
struct Filled {
  std::unique_ptr<ClientTokenStore> store = ClientTokenStore::create().value();
  std::vector<std::string> tokens;
  Filled() {
    for (int i = 0; i < kLiveTokens; ++i) {
      tokens.push_back(ferry::generate_client_token().value());
      if (!store->add(tokens.back(), run_owner(size_t(i)))) std::abort();
    }
  }
};
Filled& filled() {
  static Filled f;
  return f;
}

void BM_FindHit10k(benchmark::State& state) {
  Filled& f = filled();
  const auto now = Clock::now();
  size_t i = size_t(state.thread_index()) * 997;
  for (auto _ : state) {
    auto owner = f.store->find(f.tokens[i++ % f.tokens.size()], now);
    if (!owner) state.SkipWithError("token not found");
    benchmark::DoNotOptimize(owner);
  }
}
BENCHMARK(BM_FindHit10k);
BENCHMARK(BM_FindHit10k)->Threads(2)->UseRealTime();

void BM_FindMiss10k(benchmark::State& state) {
  Filled& f = filled();
  const auto now = Clock::now();
  std::string wrong = f.tokens[0];
  wrong.back() = wrong.back() == 'A' ? 'B' : 'A';
  for (auto _ : state) {
    auto owner = f.store->find(wrong, now);
    if (owner) state.SkipWithError("wrong token found");
    benchmark::DoNotOptimize(owner);
  }
}
BENCHMARK(BM_FindMiss10k);

// A run's registration as the control API will do it: a new token, add,
// and (to keep the store at 10,000) the removal of an earlier run.
void BM_RunTokenAddRemove10k(benchmark::State& state) {
  Filled& f = filled();
  size_t n = kLiveTokens;
  for (auto _ : state) {
    std::string token = ferry::generate_client_token().value();
    if (!f.store->add(token, run_owner(n))) state.SkipWithError("add failed");
    f.store->remove_owner("run:" + std::to_string(n));
    ++n;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RunTokenAddRemove10k);

// add() alone (with making the owner and a counter-based token, ~100 ns of
// it), the store growing from 10,000 tokens.
void BM_Add(benchmark::State& state) {
  auto store = ClientTokenStore::create().value();
  for (int i = 0; i < kLiveTokens; ++i) store->add(ferry::generate_client_token().value(), run_owner(size_t(i)));
  size_t n = kLiveTokens;
  for (auto _ : state) {
    std::string token = "bench-token-0123456789abcdefghijklmnop-" + std::to_string(n);
    if (!store->add(token, run_owner(n++))) state.SkipWithError("add failed");
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Add);

void BM_TokenFromBasic(benchmark::State& state) {
  const std::string value = ferry::auth::basic_credentials("run", filled().tokens[0]);
  for (auto _ : state) {
    auto token = ferry::client_token_from(value);
    benchmark::DoNotOptimize(token);
  }
}
BENCHMARK(BM_TokenFromBasic);

}  // namespace

BENCHMARK_MAIN();
