// What the network policy costs a request (issue 9 item 8: a strict policy
// of 10,000 patterns may cost at most 5% of the no-policy request rate):
// one host lookup, hit and miss, against 10,000 patterns of every kind, and
// the after-DNS address check.
#include <benchmark/benchmark.h>

#include <boost/asio/ip/address.hpp>
#include <string>

#include "policy/network_policy.h"

namespace {

using ferry::GrantCatalog;
using ferry::NetworkPolicy;
using ferry::PolicyMode;
using ferry::PolicySpec;

// 2,500 each of exact names, *.suffixes, names with a port, /24 prefixes; plus the github grant.
const NetworkPolicy& policy() {
  static const auto p = [] {
    PolicySpec spec;
    spec.mode = PolicyMode::strict;
    spec.deny_private = true;
    for (int i = 0; i < 2500; ++i) {
      const std::string n = std::to_string(i);
      spec.allow.push_back("host" + n + ".example.com");
      spec.allow.push_back("*.zone" + n + ".example.net");
      spec.allow.push_back("svc" + n + ".corp:8443");
      spec.allow.push_back("10." + std::to_string(i / 250) + "." + std::to_string(i % 250) + ".0/24");
    }
    spec.grants = {"github"};
    return NetworkPolicy::create(spec, GrantCatalog::builtin()).value();
  }();
  return *p;
}

void deny_host(benchmark::State& state, const char* host, uint16_t port, bool want_denied) {
  const auto& p = policy();
  if (p.deny_host(host, port).has_value() != want_denied) state.SkipWithError("unexpected verdict");
  for (auto _ : state) benchmark::DoNotOptimize(p.deny_host(host, port));
}

void BM_ExactHit(benchmark::State& s) { deny_host(s, "host1234.example.com", 443, false); }
void BM_WildcardHit(benchmark::State& s) { deny_host(s, "objects.cdn.zone1234.example.net", 443, false); }
void BM_GrantHit(benchmark::State& s) { deny_host(s, "raw.githubusercontent.com", 443, false); }
void BM_PortMiss(benchmark::State& s) { deny_host(s, "svc1234.corp", 443, true); }
void BM_NameMiss(benchmark::State& s) { deny_host(s, "objects.cdn.zone1234.example.org", 443, true); }
void BM_IpHit(benchmark::State& s) { deny_host(s, "10.4.233.17", 443, false); }
void BM_IpMiss(benchmark::State& s) { deny_host(s, "192.0.2.1", 443, true); }
BENCHMARK(BM_ExactHit);
BENCHMARK(BM_WildcardHit);
BENCHMARK(BM_GrantHit);
BENCHMARK(BM_PortMiss);
BENCHMARK(BM_NameMiss);
BENCHMARK(BM_IpHit);
BENCHMARK(BM_IpMiss);

// The after-DNS check of a public address (passes every range) and a metadata one.
void deny_address(benchmark::State& state, const char* text) {
  const auto& p = policy();
  const auto addr = boost::asio::ip::make_address(text);
  for (auto _ : state) benchmark::DoNotOptimize(p.deny_address(addr));
}
void BM_AddressAllowedV4(benchmark::State& s) { deny_address(s, "93.184.216.34"); }
void BM_AddressAllowedV6(benchmark::State& s) { deny_address(s, "2606:2800:220:1:248:1893:25c8:1946"); }
void BM_AddressDenied(benchmark::State& s) { deny_address(s, "169.254.169.254"); }
BENCHMARK(BM_AddressAllowedV4);
BENCHMARK(BM_AddressAllowedV6);
BENCHMARK(BM_AddressDenied);

}  // namespace

BENCHMARK_MAIN();
