// ferry_connect_load: HTTPS load through an HTTP proxy's CONNECT (or direct),
// for the interception benchmark (bench/intercept.sh). wrk cannot CONNECT, so
// this small client does: TCP to the proxy, CONNECT host:port, TLS to whoever
// answers (verified against --ca, SNI = host, hostname checked), then
// keep-alive GETs.
//
//   load     --proxy HOST:PORT|--direct --host NAME --port PORT --ca FILE
//            [--path /small] [--conns 50] [--threads 1] [--duration 10]
//            [--warmup 2] [--connect-ip 127.0.0.1] [--pid PID]...
//       N connections, each sending GETs back to back for the duration;
//       prints rps, p50/p99 latency, errors, and with --pid the CPU seconds
//       of those processes (utime + stime of /proc/PID/stat, all threads)
//       over the measured window and per request.
//   new-host --proxy ...|--direct --port PORT --ca FILE [--count 200] [--path /small]
//       sequentially, each iteration a new connection to a new host: the IP
//       literals 127.0.0.2, 127.0.0.3, ... (every one reaches the same
//       loopback origin, no DNS); prints p50/p99 of CONNECT answered, TLS
//       handshake done, first response received (a proxy that intercepts
//       mints a certificate and makes two handshakes in that time).
//   idle     --proxy ...|--direct --host NAME --port PORT --ca FILE --count K
//       opens K connections, one GET on each, prints READY opened= failed=,
//       holds them until stdin reaches EOF, then one more GET on each
//       (DONE alive=) and closes.
//
// Results are one line of key=value pairs for the script to read.
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
using asio::awaitable;
using asio::use_awaitable;
using asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using Tls = ssl::stream<tcp::socket>;

[[noreturn]] void die(const std::string& msg) {
  std::fprintf(stderr, "ferry_connect_load: %s\n", msg.c_str());
  std::exit(2);
}

struct Options {
  std::string mode;
  bool direct = false;
  tcp::endpoint proxy;
  std::string host;
  unsigned short port = 443;
  std::string ca;
  std::string path = "/small";
  std::string connect_ip = "127.0.0.1";
  int conns = 50;
  int threads = 1;
  double duration = 10;
  double warmup = 2;
  int count = 200;
  std::vector<int> pids;
};

tcp::endpoint parse_endpoint(const std::string& s) {
  auto colon = s.rfind(':');
  if (colon == std::string::npos) die("expected HOST:PORT, got " + s);
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(s.substr(0, colon), ec);
  if (ec) die("expected an IP address in " + s);
  return {addr, static_cast<unsigned short>(std::stoi(s.substr(colon + 1)))};
}

Options parse_options(int argc, char** argv) {
  if (argc < 2) die("usage: ferry_connect_load load|new-host|idle OPTIONS (see the source)");
  Options o;
  o.mode = argv[1];
  bool have_proxy = false;
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) die(a + " needs a value");
      return argv[++i];
    };
    if (a == "--direct") o.direct = true;
    else if (a == "--proxy") o.proxy = parse_endpoint(value()), have_proxy = true;
    else if (a == "--host") o.host = value();
    else if (a == "--port") o.port = static_cast<unsigned short>(std::stoi(value()));
    else if (a == "--ca") o.ca = value();
    else if (a == "--path") o.path = value();
    else if (a == "--connect-ip") o.connect_ip = value();
    else if (a == "--conns") o.conns = std::stoi(value());
    else if (a == "--threads") o.threads = std::stoi(value());
    else if (a == "--duration") o.duration = std::stod(value());
    else if (a == "--warmup") o.warmup = std::stod(value());
    else if (a == "--count") o.count = std::stoi(value());
    else if (a == "--pid") o.pids.push_back(std::stoi(value()));
    else die("unknown option " + a);
  }
  if (o.direct == have_proxy) die("give exactly one of --proxy HOST:PORT and --direct");
  if (o.ca.empty()) die("--ca FILE is required");
  if (o.mode != "new-host" && o.host.empty()) die("--host is required");
  if (o.mode == "new-host" && (o.count < 1 || o.count > 253)) die("--count must be 1..253 (127.0.0.2-254)");
  if (o.conns < 1 || o.threads < 1) die("--conns and --threads must be positive");
  return o;
}

bool is_ip_literal(const std::string& host) {
  boost::system::error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

std::string authority(const std::string& host, unsigned short port) {
  auto h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return h + ":" + std::to_string(port);
}

// ---- one connection ---------------------------------------------------------

struct SetupTimes {
  Clock::time_point tunnel;     // CONNECT answered (TCP connected when direct)
  Clock::time_point handshake;  // TLS handshake done
};

awaitable<std::unique_ptr<Tls>> open_tls(const Options& o, ssl::context& ctx, const std::string& host,
                                         SetupTimes* times) {
  auto ex = co_await asio::this_coro::executor;
  tcp::socket sock(ex);
  tcp::endpoint target =
      o.direct ? tcp::endpoint(asio::ip::make_address(is_ip_literal(host) ? host : o.connect_ip), o.port) : o.proxy;
  co_await sock.async_connect(target, use_awaitable);
  sock.set_option(tcp::no_delay(true));
  if (!o.direct) {
    auto req = "CONNECT " + authority(host, o.port) + " HTTP/1.1\r\nHost: " + authority(host, o.port) + "\r\n\r\n";
    co_await asio::async_write(sock, asio::buffer(req), use_awaitable);
    std::string buf;
    size_t n = co_await asio::async_read_until(sock, asio::dynamic_buffer(buf), "\r\n\r\n", use_awaitable);
    if (buf.compare(0, 12, "HTTP/1.1 200") != 0 && buf.compare(0, 12, "HTTP/1.0 200") != 0)
      throw std::runtime_error("CONNECT answered " + buf.substr(0, buf.find('\r')));
    if (buf.size() != n) throw std::runtime_error("bytes after the CONNECT answer");
  }
  if (times) times->tunnel = Clock::now();
  auto tls = std::make_unique<Tls>(std::move(sock), ctx);
  SSL* s = tls->native_handle();
  X509_VERIFY_PARAM* param = SSL_get0_param(s);
  if (is_ip_literal(host)) {
    X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str());  // no SNI for an IP (RFC 6066)
  } else {
    SSL_set_tlsext_host_name(s, host.c_str());
    X509_VERIFY_PARAM_set1_host(param, host.c_str(), 0);
  }
  co_await tls->async_handshake(ssl::stream_base::client, use_awaitable);
  if (times) times->handshake = Clock::now();
  co_return tls;
}

std::string get_request(const Options& o, const std::string& host) {
  auto h = o.port == 443 ? host : authority(host, o.port);
  return "GET " + o.path + " HTTP/1.1\r\nHost: " + h + "\r\nUser-Agent: ferry_connect_load\r\n\r\n";
}

// One keep-alive GET; `buf` carries bytes read past the response.
awaitable<void> exchange(Tls& tls, const std::string& request, std::string& buf) {
  co_await asio::async_write(tls, asio::buffer(request), use_awaitable);
  size_t head = co_await asio::async_read_until(tls, asio::dynamic_buffer(buf), "\r\n\r\n", use_awaitable);
  if (buf.compare(0, 12, "HTTP/1.1 200") != 0) throw std::runtime_error("answer " + buf.substr(0, buf.find('\r')));
  std::string lower = buf.substr(0, head);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  auto cl = lower.find("\r\ncontent-length:");
  if (cl == std::string::npos) throw std::runtime_error("no Content-Length in the answer");
  size_t need = head + std::stoul(lower.substr(cl + 17));
  if (buf.size() < need)
    co_await asio::async_read(tls, asio::dynamic_buffer(buf), asio::transfer_exactly(need - buf.size()), use_awaitable);
  buf.erase(0, need);
}

// ---- modes ------------------------------------------------------------------

struct LoadStats {
  std::vector<double> latency_us;
  uint64_t requests = 0;
  uint64_t errors = 0;
  std::string first_error;
};

void note_error(LoadStats& st, const std::exception& e) {
  ++st.errors;
  if (st.first_error.empty()) st.first_error = e.what();
}

awaitable<void> load_connection(const Options& o, ssl::context& ctx, LoadStats& st, Clock::time_point measure_from,
                                Clock::time_point until) {
  const auto request = get_request(o, o.host);
  while (Clock::now() < until) {
    std::unique_ptr<Tls> tls;
    try {
      tls = co_await open_tls(o, ctx, o.host, nullptr);
    } catch (const std::exception& e) {
      note_error(st, e);
    }
    if (!tls) continue;
    std::string buf;
    bool ok = true;
    while (ok && Clock::now() < until) {
      auto t0 = Clock::now();
      try {
        co_await exchange(*tls, request, buf);
      } catch (const std::exception& e) {
        note_error(st, e);
        ok = false;
      }
      auto t1 = Clock::now();
      if (ok && t0 >= measure_from && t1 <= until) {
        ++st.requests;
        st.latency_us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
      }
    }
  }
}

double percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = std::min(v.size() - 1, size_t(p / 100 * double(v.size())));
  return v[i];
}

// utime + stime of the processes, in seconds.
double cpu_seconds(const std::vector<int>& pids) {
  double ticks = 0;
  for (int pid : pids) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string stat((std::istreambuf_iterator<char>(in)), {});
    auto close = stat.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream fields(stat.substr(close + 2));
    std::string f;
    for (int i = 3; i <= 15 && fields >> f; ++i) {
      if (i == 14 || i == 15) ticks += std::stod(f);
    }
  }
  return ticks / double(sysconf(_SC_CLK_TCK));
}

ssl::context make_context(const Options& o) {
  ssl::context ctx(ssl::context::tls_client);
  ctx.set_verify_mode(ssl::verify_peer);
  ctx.load_verify_file(o.ca);
  // No session resumption: every connection pays a full handshake, as a
  // new client would.
  SSL_CTX_set_session_cache_mode(ctx.native_handle(), SSL_SESS_CACHE_OFF);
  SSL_CTX_set_options(ctx.native_handle(), SSL_OP_NO_TICKET);
  return ctx;
}

int run_load(const Options& o) {
  auto ctx = make_context(o);
  auto start = Clock::now();
  auto measure_from = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.warmup));
  auto until = measure_from + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.duration));
  std::vector<LoadStats> stats(size_t(o.threads));
  std::vector<std::thread> threads;
  for (int t = 0; t < o.threads; ++t) {
    threads.emplace_back([&, t] {
      asio::io_context io(1);
      for (int c = t; c < o.conns; c += o.threads)
        asio::co_spawn(io, load_connection(o, ctx, stats[size_t(t)], measure_from, until), asio::detached);
      io.run();
    });
  }
  std::this_thread::sleep_until(measure_from);
  double cpu0 = cpu_seconds(o.pids);
  std::this_thread::sleep_until(until);
  double cpu1 = cpu_seconds(o.pids);
  for (auto& t : threads) t.join();
  LoadStats all;
  for (auto& s : stats) {
    all.requests += s.requests;
    all.errors += s.errors;
    all.latency_us.insert(all.latency_us.end(), s.latency_us.begin(), s.latency_us.end());
    if (all.first_error.empty()) all.first_error = s.first_error;
  }
  double rps = double(all.requests) / o.duration;
  std::printf("mode=load requests=%llu rps=%.0f p50_ms=%.3f p99_ms=%.3f errors=%llu", (unsigned long long)all.requests,
              rps, percentile(all.latency_us, 50) / 1000, percentile(all.latency_us, 99) / 1000,
              (unsigned long long)all.errors);
  if (!o.pids.empty()) {
    double cpu = cpu1 - cpu0;
    std::printf(" cpu_s=%.2f cpu_us_per_req=%.1f", cpu, all.requests ? cpu / double(all.requests) * 1e6 : 0.0);
  }
  std::printf("\n");
  if (!all.first_error.empty()) std::fprintf(stderr, "first error: %s\n", all.first_error.c_str());
  return all.requests > 0 ? 0 : 1;
}

int run_new_host(const Options& o) {
  auto ctx = make_context(o);
  asio::io_context io(1);
  std::vector<double> tunnel_ms, handshake_ms, first_ms;
  uint64_t errors = 0;
  std::string first_error;
  asio::co_spawn(
      io,
      [&]() -> awaitable<void> {
        for (int i = 0; i < o.count; ++i) {
          auto host = "127.0.0." + std::to_string(2 + i);
          auto t0 = Clock::now();
          SetupTimes times;
          try {
            auto tls = co_await open_tls(o, ctx, host, &times);
            std::string buf;
            co_await exchange(*tls, get_request(o, host), buf);
            auto t1 = Clock::now();
            auto ms = [&](Clock::time_point t) { return std::chrono::duration<double, std::milli>(t - t0).count(); };
            tunnel_ms.push_back(ms(times.tunnel));
            handshake_ms.push_back(ms(times.handshake));
            first_ms.push_back(ms(t1));
          } catch (const std::exception& e) {
            ++errors;
            if (first_error.empty()) first_error = host + ": " + e.what();
          }
        }
      },
      asio::detached);
  io.run();
  std::printf(
      "mode=new-host count=%zu errors=%llu tunnel_p50_ms=%.3f tunnel_p99_ms=%.3f handshake_p50_ms=%.3f "
      "handshake_p99_ms=%.3f first_response_p50_ms=%.3f first_response_p99_ms=%.3f\n",
      first_ms.size(), (unsigned long long)errors, percentile(tunnel_ms, 50), percentile(tunnel_ms, 99),
      percentile(handshake_ms, 50), percentile(handshake_ms, 99), percentile(first_ms, 50), percentile(first_ms, 99));
  if (!first_error.empty()) std::fprintf(stderr, "first error: %s\n", first_error.c_str());
  return first_ms.empty() ? 1 : 0;
}

int run_idle(const Options& o) {
  auto ctx = make_context(o);
  const auto request = get_request(o, o.host);
  asio::io_context io(1);  // first: the connections' sockets need it until they close
  std::vector<std::unique_ptr<Tls>> conns(size_t(o.count));
  std::vector<std::string> bufs(size_t(o.count));
  auto open_one = [&](int i) -> awaitable<void> {
    try {
      auto tls = co_await open_tls(o, ctx, o.host, nullptr);
      co_await exchange(*tls, request, bufs[size_t(i)]);
      conns[size_t(i)] = std::move(tls);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "connection %d: %s\n", i, e.what());
    }
  };
  // The sockets belong to this io_context; both phases run on it.
  auto run_phase = [&](auto per_connection) {
    int next = 0;
    for (int w = 0; w < std::min(o.count, 32); ++w)
      asio::co_spawn(
          io,
          [&]() -> awaitable<void> {
            while (next < o.count) co_await per_connection(next++);
          },
          asio::detached);
    io.restart();
    io.run();
  };
  run_phase(open_one);
  auto opened = std::count_if(conns.begin(), conns.end(), [](const auto& c) { return c != nullptr; });
  std::printf("READY opened=%ld failed=%ld\n", long(opened), long(o.count - opened));
  std::fflush(stdout);
  std::string line;
  while (std::getline(std::cin, line)) {
  }
  int alive = 0;
  run_phase([&](int i) -> awaitable<void> {
    if (!conns[size_t(i)]) co_return;
    try {
      co_await exchange(*conns[size_t(i)], request, bufs[size_t(i)]);
      ++alive;
    } catch (const std::exception&) {
    }
  });
  std::printf("DONE alive=%d\n", alive);
  std::fflush(stdout);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  auto o = parse_options(argc, argv);
  try {
    if (o.mode == "load") return run_load(o);
    if (o.mode == "new-host") return run_new_host(o);
    if (o.mode == "idle") return run_idle(o);
  } catch (const std::exception& e) {
    die(e.what());
  }
  die("unknown mode " + o.mode);
}
