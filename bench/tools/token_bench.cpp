// ferry_token_bench: how many fresh Negotiate tokens per second ferry's
// GSSAPI mechanism makes (bench/negotiate.py runs it against its test KDC).
//
//   ferry_token_bench [--spn HTTP@proxy.test.local] [--count N] [--seconds S]
//
// Uses ferry::auth::make_mit_negotiate with the default ccache (KRB5CCNAME,
// KRB5_CONFIG from the environment), as `ferry serve` in ccache mode does.
// Each iteration is what ferry does for a new upstream connection: start() a
// fresh context towards the SPN and step() it once with no server token,
// i.e. one gss_init_sec_context producing a SPNEGO/Kerberos AP-REQ. The first
// call is timed separately and excluded: it fetches the service ticket from
// the KDC; afterwards the ticket comes from the ccache.
// Stops after N tokens or S seconds, whichever comes first, and prints one
// line of key=value pairs (tokens, seconds, tokens_per_s, us_per_token, ...).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "auth/negotiate/mit_gss.h"

namespace {

using Clock = std::chrono::steady_clock;

double us_since(Clock::time_point t0) { return std::chrono::duration<double, std::micro>(Clock::now() - t0).count(); }

}  // namespace

int main(int argc, char** argv) {
  std::string spn = "HTTP@proxy.test.local";
  long count = 2000;
  double max_seconds = 20;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "ferry_token_bench: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--spn") spn = next();
    else if (a == "--count") count = std::strtol(next(), nullptr, 10);
    else if (a == "--seconds") max_seconds = std::strtod(next(), nullptr);
    else {
      std::fprintf(stderr, "usage: ferry_token_bench [--spn SPN] [--count N] [--seconds S]\n");
      return 2;
    }
  }
  auto mech = ferry::auth::make_mit_negotiate(ferry::auth::KerberosIdentity{}, ferry::Millis(10000));

  size_t token_bytes = 0;
  auto one = [&]() -> bool {
    auto ctx = mech->start(spn);
    auto token = ctx->step({});
    if (!token) {
      std::fprintf(stderr, "ferry_token_bench: %s: %s\n  %s\n", spn.c_str(), token.error().words.c_str(),
                   token.error().debug.c_str());
      return false;
    }
    if (token->empty()) {
      std::fprintf(stderr, "ferry_token_bench: empty first token\n");
      return false;
    }
    token_bytes = token->size();
    return true;
  };

  auto t0 = Clock::now();
  if (!one()) return 1;
  const double first_us = us_since(t0);

  std::vector<double> samples;
  samples.reserve(static_cast<size_t>(std::max(count, 1L)));
  const auto start = Clock::now();
  for (long n = 0; n < count; ++n) {
    auto t = Clock::now();
    if (!one()) return 1;
    samples.push_back(us_since(t));
    if (std::chrono::duration<double>(Clock::now() - start).count() >= max_seconds) break;
  }
  const double total_s = std::chrono::duration<double>(Clock::now() - start).count();
  std::vector<double> sorted = samples;
  std::sort(sorted.begin(), sorted.end());
  auto pct = [&](double p) {
    return sorted[std::min(sorted.size() - 1, static_cast<size_t>(p * static_cast<double>(sorted.size())))];
  };
  std::printf(
      "tokens=%zu seconds=%.3f tokens_per_s=%.0f us_per_token=%.1f p50_us=%.1f p99_us=%.1f first_us=%.0f "
      "token_bytes=%zu\n",
      samples.size(), total_s, static_cast<double>(samples.size()) / total_s,
      total_s * 1e6 / static_cast<double>(samples.size()), pct(0.5), pct(0.99), first_us, token_bytes);
  return 0;
}
