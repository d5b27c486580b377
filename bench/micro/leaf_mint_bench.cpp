// What minting a leaf for a new intercepted host costs, and its parts:
// one ECDSA P-256 signature, a new key (with --leaf-key-per-host), the
// server SSL_CTX the leaf is served from. Also a cache hit.
#include <benchmark/benchmark.h>
#include <malloc.h>
#include <openssl/ssl.h>

#include <string>

#include "intercept/leaf_certificates.h"

namespace {

using namespace std::chrono_literals;
using ferry::CertificateAuthority;
using ferry::LeafCertificates;

std::shared_ptr<const CertificateAuthority> bench_ca() {
  static auto ca = std::make_shared<const CertificateAuthority>(
      CertificateAuthority::generate("bench CA", ferry::SystemClock::now(), 24h * 365).value());
  return ca;
}

// Every iteration asks for a host the cache has never seen.
void mint(benchmark::State& state, bool key_per_host) {
  auto certs = LeafCertificates::create(bench_ca(), {.capacity = 1024, .key_per_host = key_per_host}).value();
  uint64_t n = 0;
  for (auto _ : state) {
    auto ctx = certs->context_for("host" + std::to_string(n++) + ".example.com");
    if (!ctx) state.SkipWithError("mint failed");
    benchmark::DoNotOptimize(ctx);
  }
}
void BM_MintSharedKey(benchmark::State& state) { mint(state, false); }
void BM_MintKeyPerHost(benchmark::State& state) { mint(state, true); }
BENCHMARK(BM_MintSharedKey)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_MintKeyPerHost)->Unit(benchmark::kMicrosecond);

// What a new host costs with the shared context: the leaf alone.
void BM_MintLeafOnly(benchmark::State& state) {
  auto certs = LeafCertificates::create(bench_ca(), {.capacity = 1024}).value();
  uint64_t n = 0;
  for (auto _ : state) {
    auto leaf = certs->leaf_for("host" + std::to_string(n++) + ".example.com");
    if (!leaf) state.SkipWithError("mint failed");
    benchmark::DoNotOptimize(leaf);
  }
}
BENCHMARK(BM_MintLeafOnly)->Unit(benchmark::kMicrosecond);

// What each connection pays to get its server SSL: from the host's own
// context, or from the shared one with the leaf installed.
void BM_SslFromHostContext(benchmark::State& state) {
  auto certs = LeafCertificates::create(bench_ca(), {}).value();
  auto ctx = certs->context_for("api.example.com").value();
  for (auto _ : state) SSL_free(SSL_new(ctx->native_handle()));
}
BENCHMARK(BM_SslFromHostContext)->Unit(benchmark::kMicrosecond);

void BM_SslFromSharedContextWithLeaf(benchmark::State& state) {
  auto certs = LeafCertificates::create(bench_ca(), {}).value();
  auto leaf = certs->leaf_for("api.example.com").value();
  for (auto _ : state) {
    SSL* ssl = SSL_new(certs->server_context().native_handle());
    if (!leaf->install(ssl)) state.SkipWithError("install failed");
    SSL_free(ssl);
  }
}
BENCHMARK(BM_SslFromSharedContextWithLeaf)->Unit(benchmark::kMicrosecond);

void BM_CacheHit(benchmark::State& state) {
  auto certs = LeafCertificates::create(bench_ca(), {}).value();
  for (int i = 0; i < 1024; ++i) (void)certs->context_for("host" + std::to_string(i) + ".example.com");
  const std::string host = "host512.example.com";
  for (auto _ : state) benchmark::DoNotOptimize(certs->context_for(host));
}
BENCHMARK(BM_CacheHit);

// Heap held per cached host (leaf, SSL_CTX, cache entry), over a full cache.
void BM_CacheHeapPerHost(benchmark::State& state) {
  for (auto _ : state) {
    auto certs = LeafCertificates::create(bench_ca(), {}).value();
    const size_t before = mallinfo2().uordblks;
    for (int i = 0; i < 1024; ++i) (void)certs->context_for("host" + std::to_string(i) + ".example.com");
    state.counters["heap_bytes_per_host"] = double(mallinfo2().uordblks - before) / 1024;
  }
}
BENCHMARK(BM_CacheHeapPerHost)->Iterations(1)->Unit(benchmark::kMillisecond);

// The parts.
void BM_EcdsaP256Sign(benchmark::State& state) {
  EVP_PKEY* key = bench_ca()->key();
  unsigned char digest[32] = {1};
  unsigned char sig[80];
  for (auto _ : state) {
    EVP_MD_CTX* md = EVP_MD_CTX_new();
    size_t len = sizeof sig;
    EVP_DigestSignInit(md, nullptr, EVP_sha256(), nullptr, key);
    EVP_DigestSign(md, sig, &len, digest, sizeof digest);
    EVP_MD_CTX_free(md);
    benchmark::DoNotOptimize(sig);
  }
}
BENCHMARK(BM_EcdsaP256Sign)->Unit(benchmark::kMicrosecond);

void BM_P256KeyGen(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(ferry::make_p256_key());
}
BENCHMARK(BM_P256KeyGen)->Unit(benchmark::kMicrosecond);

void BM_ServerSslCtxNew(benchmark::State& state) {
  for (auto _ : state) SSL_CTX_free(SSL_CTX_new(TLS_server_method()));
}
BENCHMARK(BM_ServerSslCtxNew)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
