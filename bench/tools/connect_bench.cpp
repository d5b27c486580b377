// ferry_connect_bench: the client and the loopback servers for ferry's CONNECT
// benchmarks (bench/run.sh). Plain POSIX sockets and threads, so that neither
// side is slower than the proxy it measures.
//
//   serve-sink PORT [--lifetime S]     per connection, the first byte picks:
//       'D' + 8-byte big-endian N: send N bytes, then wait for EOF
//       'U': read until EOF, then answer the byte count (8 bytes, big-endian)
//   serve-echo PORT [--lifetime S]     echo everything (one epoll thread)
//   throughput --proxy HOST:PORT|none --target HOST:PORT --tunnels N --bytes B
//              [--direction down|up] [--max-seconds S]          (target: a sink)
//   setup      --proxy ... --target HOST:PORT --count N [--warmup W] [--max-seconds S]
//              [--dump FILE]   (appends "established_us firstbyte_us" per tunnel)
//   idle       --proxy ... --target HOST:PORT --count N [--threads T] [--hold-seconds S]
//              (target: an echo server; prints READY, holds until stdin EOF)
//
// Every client mode also takes --proxy-auth VALUE: sent as
// "Proxy-Authorization: VALUE" with each CONNECT (e.g. "Basic Ym9iOmJvYnB3").
// With a proxy, the --target host may be a name (it is only written into the
// CONNECT request, the proxy resolves it); without one it must be an IPv4
// address.
//
// Results are printed as one line of key=value pairs for the script to read.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <barrier>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kBufSize = 256 * 1024;
constexpr int kIoTimeoutSeconds = 10;

[[noreturn]] void die(const std::string& msg) {
  std::fprintf(stderr, "ferry_connect_bench: %s\n", msg.c_str());
  std::exit(2);
}

struct Endpoint {
  std::string host;
  uint16_t port = 0;
  std::string str() const { return host + ":" + std::to_string(port); }
};

bool is_ipv4(const std::string& host) {
  in_addr a{};
  return inet_pton(AF_INET, host.c_str(), &a) == 1;
}

// HOST:PORT; HOST must be an IPv4 address unless allow_name (then any
// non-empty name of letters, digits, '.', '-' and '_').
std::optional<Endpoint> parse_endpoint(const std::string& s, bool allow_name = false) {
  auto colon = s.rfind(':');
  if (colon == std::string::npos) return std::nullopt;
  Endpoint e{s.substr(0, colon), 0};
  long port = std::strtol(s.c_str() + colon + 1, nullptr, 10);
  if (port <= 0 || port > 65535) return std::nullopt;
  e.port = static_cast<uint16_t>(port);
  if (is_ipv4(e.host)) return e;
  if (!allow_name || e.host.empty()) return std::nullopt;
  for (unsigned char c : e.host)
    if (!std::isalnum(c) && c != '.' && c != '-' && c != '_') return std::nullopt;
  return e;
}

// The Proxy-Authorization value sent with every CONNECT (--proxy-auth), or
// empty for none.
std::string g_proxy_auth;

sockaddr_in to_sockaddr(const Endpoint& e) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(e.port);
  inet_pton(AF_INET, e.host.c_str(), &sa.sin_addr);
  return sa;
}

void set_timeouts(int fd, int seconds) {
  timeval tv{seconds, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

bool write_all(int fd, const void* data, size_t n) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

bool read_full(int fd, void* data, size_t n) {
  char* p = static_cast<char*>(data);
  while (n > 0) {
    ssize_t r = recv(fd, p, n, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    p += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}

void put_u64(unsigned char* out, uint64_t v) {
  for (int i = 7; i >= 0; --i, v >>= 8) out[i] = static_cast<unsigned char>(v & 0xff);
}
uint64_t get_u64(const unsigned char* in) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | in[i];
  return v;
}

int connect_to(const Endpoint& e) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  set_timeouts(fd, kIoTimeoutSeconds);
  sockaddr_in sa = to_sockaddr(e);
  while (connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    if (errno == EINTR) continue;
    close(fd);
    return -1;
  }
  return fd;
}

// Opens a TCP connection to `target`, through `proxy` with CONNECT when given.
// Returns the fd of a tunnel ready for data, or -1 with `err` set. Any bytes
// after the 200 response are an error: every protocol here is client-first.
int open_tunnel(const std::optional<Endpoint>& proxy, const Endpoint& target, std::string& err) {
  int fd = connect_to(proxy ? *proxy : target);
  if (fd < 0) {
    err = std::string("connect: ") + std::strerror(errno);
    return -1;
  }
  if (!proxy) return fd;
  std::string req = "CONNECT " + target.str() + " HTTP/1.1\r\nHost: " + target.str() + "\r\n";
  if (!g_proxy_auth.empty()) req += "Proxy-Authorization: " + g_proxy_auth + "\r\n";
  req += "\r\n";
  if (!write_all(fd, req.data(), req.size())) {
    err = "write CONNECT failed";
    close(fd);
    return -1;
  }
  std::string head;
  char buf[2048];
  while (head.find("\r\n\r\n") == std::string::npos) {
    if (head.size() > 16384) {
      err = "CONNECT response head too large";
      close(fd);
      return -1;
    }
    ssize_t r = recv(fd, buf, sizeof buf, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      err = r == 0 ? "proxy closed before CONNECT response"
                   : std::string("read CONNECT response: ") + std::strerror(errno);
      close(fd);
      return -1;
    }
    head.append(buf, static_cast<size_t>(r));
  }
  const size_t end = head.find("\r\n\r\n") + 4;
  if (head.compare(0, 7, "HTTP/1.") != 0 || head.size() < 12 || head.compare(9, 3, "200") != 0) {
    err = "CONNECT refused: " + head.substr(0, head.find("\r\n"));
    close(fd);
    return -1;
  }
  if (end != head.size()) {
    err = "unexpected bytes after CONNECT response";
    close(fd);
    return -1;
  }
  return fd;
}

// --- argument handling -------------------------------------------------------

struct Args {
  std::vector<std::string> positional;
  std::map<std::string, std::string> opts;

  std::string get(const std::string& k, const std::string& def = "") const {
    auto it = opts.find(k);
    return it == opts.end() ? def : it->second;
  }
  std::string need(const std::string& k) const {
    auto it = opts.find(k);
    if (it == opts.end()) die("missing --" + k);
    return it->second;
  }
  uint64_t num(const std::string& k, uint64_t def) const {
    auto it = opts.find(k);
    if (it == opts.end()) return def;
    char* end = nullptr;
    unsigned long long v = std::strtoull(it->second.c_str(), &end, 10);
    if (end == it->second.c_str() || *end != '\0') die("bad number for --" + k + ": " + it->second);
    return v;
  }
};

Args parse_args(int argc, char** argv) {
  Args a;
  for (int i = 2; i < argc; ++i) {
    std::string s = argv[i];
    if (s.rfind("--", 0) == 0) {
      if (i + 1 >= argc) die("missing value for " + s);
      a.opts[s.substr(2)] = argv[++i];
    } else {
      a.positional.push_back(s);
    }
  }
  return a;
}

std::optional<Endpoint> proxy_arg(const Args& a) {
  std::string p = a.need("proxy");
  g_proxy_auth = a.get("proxy-auth");
  if (g_proxy_auth.find_first_of("\r\n") != std::string::npos) die("bad --proxy-auth: contains a line break");
  if (p == "none") return std::nullopt;
  auto e = parse_endpoint(p);
  if (!e) die("bad --proxy " + p);
  return e;
}

// A host name is allowed only with a proxy (which resolves it).
Endpoint target_arg(const Args& a) {
  const bool via_proxy = a.need("proxy") != "none";
  auto e = parse_endpoint(a.need("target"), via_proxy);
  if (!e) die(via_proxy ? "bad --target" : "bad --target (without a proxy it must be IPV4:PORT)");
  return *e;
}

// --- servers -------------------------------------------------------------------

int listen_on(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) die("socket failed");
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in sa = to_sockaddr(Endpoint{"127.0.0.1", port});
  if (bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) die(std::string("bind: ") + std::strerror(errno));
  if (listen(fd, 4096) != 0) die("listen failed");
  return fd;
}

uint16_t server_port(const Args& a) {
  if (a.positional.empty()) die("missing PORT");
  long p = std::strtol(a.positional[0].c_str(), nullptr, 10);
  if (p <= 0 || p > 65535) die("bad PORT");
  return static_cast<uint16_t>(p);
}

std::atomic<int> g_sink_threads{0};
constexpr int kMaxSinkThreads = 256;

void sink_connection(int fd) {
  static const std::vector<char> payload(kBufSize, 'x');
  set_timeouts(fd, 60);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  std::vector<char> buf(kBufSize);
  char cmd = 0;
  if (read_full(fd, &cmd, 1)) {
    if (cmd == 'D') {
      unsigned char n8[8];
      if (read_full(fd, n8, 8)) {
        uint64_t left = get_u64(n8);
        while (left > 0) {
          size_t n = static_cast<size_t>(std::min<uint64_t>(left, payload.size()));
          ssize_t w = send(fd, payload.data(), n, MSG_NOSIGNAL);
          if (w < 0 && errno == EINTR) continue;
          if (w <= 0) break;
          left -= static_cast<uint64_t>(w);
        }
        shutdown(fd, SHUT_WR);
        for (int i = 0; i < 1000000; ++i) {  // drain until the client's EOF
          ssize_t r = recv(fd, buf.data(), buf.size(), 0);
          if (r < 0 && errno == EINTR) continue;
          if (r <= 0) break;
        }
      }
    } else if (cmd == 'U') {
      uint64_t got = 0;
      for (;;) {
        ssize_t r = recv(fd, buf.data(), buf.size(), 0);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        got += static_cast<uint64_t>(r);
      }
      unsigned char n8[8];
      put_u64(n8, got);
      write_all(fd, n8, 8);
    }
  }
  close(fd);
  --g_sink_threads;
}

int serve_sink(const Args& a) {
  const uint16_t port = server_port(a);
  alarm(static_cast<unsigned>(a.num("lifetime", 3600)));  // never outlive a forgotten run
  int lfd = listen_on(port);
  std::printf("LISTENING %u\n", port);
  std::fflush(stdout);
  for (;;) {
    int fd = accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE || errno == ENFILE) {
        if (errno == EMFILE || errno == ENFILE) usleep(10000);
        continue;
      }
      die(std::string("accept: ") + std::strerror(errno));
    }
    if (g_sink_threads.load() >= kMaxSinkThreads) {
      close(fd);
      continue;
    }
    ++g_sink_threads;
    std::thread(sink_connection, fd).detach();
  }
}

int serve_echo(const Args& a) {
  const uint16_t port = server_port(a);
  alarm(static_cast<unsigned>(a.num("lifetime", 3600)));
  int lfd = listen_on(port);
  fcntl(lfd, F_SETFL, fcntl(lfd, F_GETFL) | O_NONBLOCK);
  int ep = epoll_create1(EPOLL_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = lfd;
  epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
  std::unordered_map<int, std::string> pending;  // unsent echo per connection
  std::vector<char> buf(64 * 1024);
  std::vector<epoll_event> events(512);
  std::printf("LISTENING %u\n", port);
  std::fflush(stdout);

  auto drop = [&](int fd) {
    epoll_ctl(ep, EPOLL_CTL_DEL, fd, nullptr);
    pending.erase(fd);
    close(fd);
  };
  auto flush = [&](int fd, const char* data, size_t n) -> bool {  // false: connection gone
    while (n > 0) {
      ssize_t w = send(fd, data, n, MSG_NOSIGNAL);
      if (w < 0 && errno == EINTR) continue;
      if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      if (w <= 0) return false;
      data += w;
      n -= static_cast<size_t>(w);
    }
    epoll_event e{};
    e.data.fd = fd;
    if (n > 0) {
      pending[fd].assign(data, n);
      e.events = EPOLLOUT;  // stop reading until the backlog is sent
    } else {
      pending.erase(fd);
      e.events = EPOLLIN;
    }
    epoll_ctl(ep, EPOLL_CTL_MOD, fd, &e);
    return true;
  };

  for (;;) {
    int n = epoll_wait(ep, events.data(), static_cast<int>(events.size()), 1000);
    for (int i = 0; i < n; ++i) {
      const int fd = events[i].data.fd;
      if (fd == lfd) {
        for (int k = 0; k < 1024; ++k) {
          int c = accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
          if (c < 0) break;
          int one = 1;
          setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          epoll_event e{};
          e.events = EPOLLIN;
          e.data.fd = c;
          epoll_ctl(ep, EPOLL_CTL_ADD, c, &e);
        }
        continue;
      }
      if (events[i].events & EPOLLOUT) {
        std::string backlog = std::move(pending[fd]);
        if (!flush(fd, backlog.data(), backlog.size())) drop(fd);
        continue;
      }
      ssize_t r = recv(fd, buf.data(), buf.size(), 0);
      if (r < 0 && (errno == EAGAIN || errno == EINTR)) continue;
      if (r <= 0) {
        drop(fd);
        continue;
      }
      if (!flush(fd, buf.data(), static_cast<size_t>(r))) drop(fd);
    }
  }
}

// --- clients ---------------------------------------------------------------------

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

int run_throughput(const Args& a) {
  const auto proxy = proxy_arg(a);
  const Endpoint target = target_arg(a);
  const int tunnels = static_cast<int>(a.num("tunnels", 1));
  const uint64_t total = a.num("bytes", 1ull << 30);
  const double max_seconds = static_cast<double>(a.num("max-seconds", 30));
  const std::string direction = a.get("direction", "down");
  if (tunnels < 1 || tunnels > 256) die("--tunnels must be 1..256");
  if (direction != "down" && direction != "up") die("--direction must be down or up");

  struct Slot {
    uint64_t bytes = 0;
    bool complete = false;
    std::string err;
    Clock::time_point end;
  };
  std::vector<Slot> slots(static_cast<size_t>(tunnels));
  Clock::time_point start;
  std::barrier sync(tunnels, [&]() noexcept { start = Clock::now(); });

  auto worker = [&](int idx) {
    Slot& s = slots[static_cast<size_t>(idx)];
    uint64_t want = total / static_cast<uint64_t>(tunnels);
    if (idx == tunnels - 1) want += total % static_cast<uint64_t>(tunnels);
    int fd = open_tunnel(proxy, target, s.err);
    sync.arrive_and_wait();  // all tunnels are up: transfers start together
    if (fd < 0) {
      s.end = Clock::now();
      return;
    }
    set_timeouts(fd, 2);  // wake up now and then to check the deadline
    const auto deadline =
        start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(max_seconds));
    std::vector<char> buf(kBufSize, 'u');
    if (direction == "down") {
      unsigned char cmd[9];
      cmd[0] = 'D';
      put_u64(cmd + 1, want);
      if (!write_all(fd, cmd, sizeof cmd)) s.err = "write command failed";
      while (s.err.empty() && s.bytes < want && Clock::now() < deadline) {
        ssize_t r = recv(fd, buf.data(), static_cast<size_t>(std::min<uint64_t>(buf.size(), want - s.bytes)), 0);
        if (r < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (r <= 0) {
          s.err = r == 0 ? "early EOF" : std::string("recv: ") + std::strerror(errno);
          break;
        }
        s.bytes += static_cast<uint64_t>(r);
      }
      s.end = Clock::now();
      s.complete = s.bytes == want;
    } else {
      char cmd = 'U';
      if (!write_all(fd, &cmd, 1)) s.err = "write command failed";
      uint64_t sent = 0;
      while (s.err.empty() && sent < want && Clock::now() < deadline) {
        ssize_t w =
            send(fd, buf.data(), static_cast<size_t>(std::min<uint64_t>(buf.size(), want - sent)), MSG_NOSIGNAL);
        if (w < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (w <= 0) {
          s.err = std::string("send: ") + std::strerror(errno);
          break;
        }
        sent += static_cast<uint64_t>(w);
      }
      shutdown(fd, SHUT_WR);
      set_timeouts(fd, kIoTimeoutSeconds);
      unsigned char n8[8];
      if (read_full(fd, n8, 8)) s.bytes = get_u64(n8);
      else if (s.err.empty()) s.err = "no byte count from sink";
      s.end = Clock::now();
      s.complete = s.bytes == want;
    }
    close(fd);
  };

  std::vector<std::thread> threads;
  for (int i = 0; i < tunnels; ++i) threads.emplace_back(worker, i);
  for (auto& t : threads) t.join();

  uint64_t bytes = 0;
  int errors = 0;
  bool complete = true;
  Clock::time_point end = start;
  std::string first_err;
  for (const auto& s : slots) {
    bytes += s.bytes;
    complete = complete && s.complete;
    if (!s.err.empty()) {
      ++errors;
      if (first_err.empty()) first_err = s.err;
    }
    end = std::max(end, s.end);
  }
  const double secs = std::chrono::duration<double>(end - start).count();
  std::printf(
      "throughput proxy=%s tunnels=%d direction=%s bytes=%llu seconds=%.3f MBps=%.1f complete=%s errors=%d%s%s\n",
      proxy ? proxy->str().c_str() : "none", tunnels, direction.c_str(), static_cast<unsigned long long>(bytes), secs,
      secs > 0 ? static_cast<double>(bytes) / secs / 1e6 : 0.0, complete ? "yes" : "no", errors,
      first_err.empty() ? "" : " first_error=", first_err.c_str());
  return errors == 0 ? 0 : 1;
}

struct Stats {
  double p50 = 0, p99 = 0, mean = 0, max = 0;
};
Stats stats_of(std::vector<double> v) {
  Stats s;
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  auto rank = [&](double p) {  // nearest-rank percentile
    size_t r = static_cast<size_t>(std::ceil(p * static_cast<double>(v.size())));
    return v[std::clamp<size_t>(r, 1, v.size()) - 1];
  };
  s.p50 = rank(0.50);
  s.p99 = rank(0.99);
  double sum = 0;
  for (double x : v) sum += x;
  s.mean = sum / static_cast<double>(v.size());
  s.max = v.back();
  return s;
}

int run_setup(const Args& a) {
  const auto proxy = proxy_arg(a);
  const Endpoint target = target_arg(a);
  const uint64_t count = a.num("count", 1000);
  const uint64_t warmup = a.num("warmup", 20);
  const double max_seconds = static_cast<double>(a.num("max-seconds", 60));
  const std::string dump = a.get("dump");
  std::vector<double> established_us, firstbyte_us;  // 200 received; one echoed byte back
  int errors = 0;
  std::string first_err;
  const auto begin = Clock::now();
  for (uint64_t i = 0; i < warmup + count && seconds_since(begin) < max_seconds; ++i) {
    std::string err;
    const auto t0 = Clock::now();
    int fd = open_tunnel(proxy, target, err);
    const auto t1 = Clock::now();
    char c = 'x', back = 0;
    if (fd >= 0 && !(write_all(fd, &c, 1) && read_full(fd, &back, 1) && back == c)) err = "echo round trip failed";
    const auto t2 = Clock::now();
    if (fd >= 0) close(fd);
    if (!err.empty()) {
      ++errors;
      if (first_err.empty()) first_err = err;
      continue;
    }
    if (i < warmup) continue;
    established_us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
    firstbyte_us.push_back(std::chrono::duration<double, std::micro>(t2 - t0).count());
  }
  if (!dump.empty()) {
    FILE* out = std::fopen(dump.c_str(), "a");
    if (!out) die("cannot open " + dump);
    for (size_t i = 0; i < firstbyte_us.size(); ++i)
      std::fprintf(out, "%.1f %.1f\n", established_us[i], firstbyte_us[i]);
    std::fclose(out);
  }
  const Stats e = stats_of(established_us), f = stats_of(firstbyte_us);
  std::printf(
      "setup proxy=%s count=%zu errors=%d established_p50_us=%.0f established_p99_us=%.0f established_mean_us=%.0f "
      "firstbyte_p50_us=%.0f firstbyte_p99_us=%.0f firstbyte_mean_us=%.0f firstbyte_max_us=%.0f%s%s\n",
      proxy ? proxy->str().c_str() : "none", firstbyte_us.size(), errors, e.p50, e.p99, e.mean, f.p50, f.p99, f.mean,
      f.max, first_err.empty() ? "" : " first_error=", first_err.c_str());
  return errors == 0 && firstbyte_us.size() == count ? 0 : 1;
}

bool echo_check(int fd) {
  static constexpr char kPing[] = "ping";
  char back[4];
  return write_all(fd, kPing, 4) && read_full(fd, back, 4) && std::memcmp(back, kPing, 4) == 0;
}

int run_idle(const Args& a) {
  const auto proxy = proxy_arg(a);
  const Endpoint target = target_arg(a);
  const int count = static_cast<int>(a.num("count", 2000));
  const int nthreads = std::max(1, static_cast<int>(a.num("threads", 4)));
  const int hold_ms = static_cast<int>(a.num("hold-seconds", 300) * 1000);
  std::vector<int> fds(static_cast<size_t>(count), -1);
  std::atomic<int> failed{0};
  std::mutex err_mu;
  std::string first_err;
  const auto begin = Clock::now();
  auto worker = [&](int t) {
    for (int i = t; i < count; i += nthreads) {
      std::string err;
      int fd = open_tunnel(proxy, target, err);
      if (fd >= 0 && !echo_check(fd)) {
        err = "echo round trip failed";
        close(fd);
        fd = -1;
      }
      if (fd < 0) {
        ++failed;
        std::lock_guard lk(err_mu);
        if (first_err.empty()) first_err = err;
        continue;
      }
      fds[static_cast<size_t>(i)] = fd;
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < nthreads; ++t) threads.emplace_back(worker, t);
  for (auto& th : threads) th.join();
  std::printf("READY opened=%d failed=%d seconds=%.2f%s%s\n", count - failed.load(), failed.load(),
              seconds_since(begin), first_err.empty() ? "" : " first_error=", first_err.c_str());
  std::fflush(stdout);

  // Hold the tunnels idle until stdin reaches EOF, or the hold time is up.
  const auto hold_start = Clock::now();
  char sink[256];
  for (;;) {
    const int left = hold_ms - static_cast<int>(seconds_since(hold_start) * 1000);
    if (left <= 0) break;
    pollfd p{0, POLLIN, 0};
    int r = poll(&p, 1, left);
    if (r > 0) {
      ssize_t n = read(0, sink, sizeof sink);
      if (n <= 0) break;
    } else if (r < 0 && errno != EINTR) {
      break;
    }
  }
  // Did the tunnels survive being idle?
  int alive = 0;
  for (int fd : fds) {
    if (fd < 0) continue;
    if (echo_check(fd)) ++alive;
    close(fd);
  }
  std::printf("DONE alive=%d held_seconds=%.1f\n", alive, seconds_since(hold_start));
  return failed.load() == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  if (argc < 2) {
    std::fprintf(stderr,
                 "usage: %s serve-sink PORT | serve-echo PORT | throughput | setup | idle  (see the source header)\n",
                 argv[0]);
    return 2;
  }
  const std::string mode = argv[1];
  const Args a = parse_args(argc, argv);
  if (mode == "serve-sink") return serve_sink(a);
  if (mode == "serve-echo") return serve_echo(a);
  if (mode == "throughput") return run_throughput(a);
  if (mode == "setup") return run_setup(a);
  if (mode == "idle") return run_idle(a);
  die("unknown mode " + mode);
}
