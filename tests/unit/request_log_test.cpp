// The request log: file mode, redaction (headers, query, secrets, secrets cut
// by the body prefix limit), JSON validity for arbitrary bytes, bounded queue
// with counted and reported drops, and a submit() that never waits.
#include "intercept/request_log.h"

// Boost.JSON, header-only, in this one translation unit: a strict parser
// (it rejects malformed UTF-8 and raw control bytes) to read lines back.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>
#include <boost/json/src.hpp>

#include <array>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>
#include <random>
#include <sstream>

#include "auth/basic_auth.h"

namespace ferry {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

constexpr std::string_view kR = "[REDACTED]";

json::object parse_line(std::string_view line) {
  boost::system::error_code ec;
  auto v = json::parse(line, ec);
  EXPECT_FALSE(ec) << ec.message() << " in: " << line;
  if (ec || !v.is_object()) return {};
  return v.as_object();
}

std::string str(const json::object& o, std::string_view key) {
  auto* v = o.if_contains(key);
  if (!v || !v->is_string()) return "<missing " + std::string(key) + ">";
  return std::string(v->as_string());
}

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

RequestLogEntry sample_entry() {
  RequestLogEntry e;
  e.time = std::chrono::system_clock::time_point(std::chrono::milliseconds(1764776175123));  // 2025-12-03T15:36:15.123Z
  e.client = "127.0.0.1:40000";
  e.method = "GET";
  e.url = "https://api.example.com/v1/items?page=2";
  e.status = 200;
  e.duration_ms = 12.5;
  e.route = "direct";
  e.rule = 1;
  e.injected = {"Authorization"};
  e.request_headers = {{"Host", "api.example.com"}, {"Accept", "*/*"}};
  e.response_headers = {{"Content-Type", "application/json"}};
  e.request_bytes = 0;
  e.response_bytes = 2;
  e.response_body = "{}";
  return e;
}

// A writer a test can stall on its first call, to hold the writer thread
// deterministically (no sleeps).
class TestWriter {
 public:
  explicit TestWriter(bool stall_first) : stall_(stall_first), release_future_(release_.get_future().share()) {}
  ~TestWriter() { release(); }

  RequestLog::Writer writer() {
    return [this](std::string_view lines) { return write(lines); };
  }
  // Returns once the writer thread is blocked inside the first write.
  void wait_until_stalled() { entered_.get_future().wait(); }
  void release() {
    std::lock_guard lk(mu_);
    if (!released_) release_.set_value();
    released_ = true;
  }
  void fail_next_writes(int n) {
    std::lock_guard lk(mu_);
    failures_ = n;
  }
  std::string text() {
    std::lock_guard lk(mu_);
    return text_;
  }
  // Waits (without polling) until the written text contains `needle`.
  bool wait_for_text(std::string_view needle, std::chrono::seconds limit) {
    std::unique_lock lk(mu_);
    return grew_.wait_for(lk, limit, [&] { return text_.find(needle) != std::string::npos; });
  }
  int calls() {
    std::lock_guard lk(mu_);
    return calls_;
  }

 private:
  bool write(std::string_view lines) {
    bool stall = false;
    {
      std::lock_guard lk(mu_);
      ++calls_;
      stall = stall_ && calls_ == 1;
      if (failures_ > 0) {
        --failures_;
        return false;
      }
    }
    if (stall) {
      entered_.set_value();
      release_future_.wait();
    }
    std::lock_guard lk(mu_);
    text_.append(lines);
    grew_.notify_all();
    return true;
  }

  const bool stall_;
  std::mutex mu_;
  std::condition_variable grew_;
  std::promise<void> entered_;
  std::promise<void> release_;
  std::shared_future<void> release_future_;
  bool released_ = false;
  int failures_ = 0;
  int calls_ = 0;
  std::string text_;
};

// Releases a stalled writer before the log's destructor joins its thread,
// even when an assertion returned early.
struct ReleaseOnExit {
  TestWriter& w;
  ~ReleaseOnExit() { w.release(); }
};

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "ferry-reqlog-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

mode_t file_mode(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0);
  return st.st_mode & 07777;
}

// ---- the file -----------------------------------------------------------------

TEST(RequestLogFile, CreatedWithMode0600EvenUnderPermissiveUmask) {
  TempDir dir;
  auto path = dir.file("requests.jsonl");
  mode_t old = ::umask(0);
  auto log = RequestLog::open(path, false);
  ::umask(old);
  ASSERT_TRUE(log) << log.error();
  EXPECT_EQ(file_mode(path), 0600u);
  (*log)->submit(sample_entry());
  log->reset();
  auto lines = split_lines(read_file(path));
  ASSERT_EQ(lines.size(), 1u);
  auto o = parse_line(lines[0]);
  EXPECT_EQ(str(o, "event"), "request");
  EXPECT_EQ(str(o, "time"), "2025-12-03T15:36:15.123Z");
}

TEST(RequestLogFile, ExistingFileIsNarrowedTo0600AndAppendedTo) {
  TempDir dir;
  auto path = dir.file("requests.jsonl");
  { std::ofstream(path) << "{\"earlier\":true}\n"; }
  ASSERT_EQ(::chmod(path.c_str(), 0644), 0);
  auto log = RequestLog::open(path, true);
  ASSERT_TRUE(log) << log.error();
  EXPECT_EQ(file_mode(path), 0600u);
  (*log)->submit(sample_entry());
  (*log)->flush();
  auto lines = split_lines(read_file(path));
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0], "{\"earlier\":true}");
  EXPECT_EQ(str(parse_line(lines[1]), "response_body"), "{}");
}

TEST(RequestLogFile, DirectoryIsRefusedWithAClearError) {
  TempDir dir;
  auto log = RequestLog::open(dir.path().string(), false);
  ASSERT_FALSE(log);
  EXPECT_NE(log.error().find("is a directory"), std::string::npos) << log.error();
  EXPECT_NE(log.error().find(dir.path().string()), std::string::npos) << log.error();
}

TEST(RequestLogFile, MissingParentIsAnError) {
  TempDir dir;
  auto log = RequestLog::open(dir.file("no/such/requests.jsonl"), false);
  ASSERT_FALSE(log);
  EXPECT_NE(log.error().find("cannot open request log"), std::string::npos) << log.error();
}

// ---- redaction ----------------------------------------------------------------

// Submits one entry through a log with a capturing writer; returns its line.
json::object logged(RequestLogEntry e, RequestLogRedaction r = {}, bool bodies = true) {
  TestWriter w(false);
  {
    RequestLog log(w.writer(), bodies);
    log.submit(std::move(e), r);
  }
  auto lines = split_lines(w.text());
  EXPECT_EQ(lines.size(), 1u) << w.text();
  return lines.empty() ? json::object{} : parse_line(lines[0]);
}

std::string header_value(const json::object& o, std::string_view list, std::string_view name) {
  for (const auto& h : o.at(list).as_array()) {
    const auto& pair = h.as_array();
    if (pair.at(0).as_string() == name) return std::string(pair.at(1).as_string());
  }
  return "<no header " + std::string(name) + ">";
}

TEST(RequestLogRedaction, CredentialHeadersAndTheRulesHeader) {
  auto e = sample_entry();
  e.request_headers = {{"authorization", "Bearer real"},    {"Proxy-Authorization", "Basic dXNlcjpwdw=="},
                       {"COOKIE", "session=abc"},           {"X-Api-Key", "k-123"},
                       {"X-Custom-Token", "custom-secret"}, {"Accept", "application/json"}};
  e.response_headers = {{"Set-Cookie", "id=xyz; Path=/"}, {"ETag", "\"v1\""}};
  std::array<std::string_view, 1> extra{"x-custom-token"};
  auto o = logged(std::move(e), {.headers = extra});
  EXPECT_EQ(header_value(o, "request_headers", "authorization"), kR);
  EXPECT_EQ(header_value(o, "request_headers", "Proxy-Authorization"), kR);
  EXPECT_EQ(header_value(o, "request_headers", "COOKIE"), kR);
  EXPECT_EQ(header_value(o, "request_headers", "X-Api-Key"), kR);
  EXPECT_EQ(header_value(o, "request_headers", "X-Custom-Token"), kR);
  EXPECT_EQ(header_value(o, "request_headers", "Accept"), "application/json");
  EXPECT_EQ(header_value(o, "response_headers", "Set-Cookie"), kR);
  EXPECT_EQ(header_value(o, "response_headers", "ETag"), "\"v1\"");
  EXPECT_TRUE(o.at("injected").as_bool());
  EXPECT_EQ(o.at("injected_headers").as_array().at(0).as_string(), "Authorization");
}

TEST(RequestLogRedaction, EverySecretQueryParameterName) {
  for (std::string_view name : {"token",
                                "access_token",
                                "refresh_token",
                                "id_token",
                                "api_key",
                                "apikey",
                                "key",
                                "secret",
                                "client_secret",
                                "password",
                                "passwd",
                                "sig",
                                "signature",
                                "x-amz-signature",
                                "x-amz-credential",
                                "x-amz-security-token",
                                "code",
                                "auth",
                                "Access_Token",
                                "X-Amz-Signature",
                                "KEY"}) {
    auto url = "https://h.example/p?a=1&" + std::string(name) + "=s3cr3t&b=2";
    EXPECT_EQ(redact_url(url), "https://h.example/p?a=1&" + std::string(name) + "=[REDACTED]&b=2") << name;
  }
}

TEST(RequestLogRedaction, QueryEdgeCases) {
  // Not secret-ish: kept (names match whole, not as substrings).
  EXPECT_EQ(redact_url("https://h/p?keyboard=1&monkey=2&tokens=3"), "https://h/p?keyboard=1&monkey=2&tokens=3");
  // A percent-encoded name is the name the server sees.
  EXPECT_EQ(redact_url("https://h/p?access%5Ftoken=x"), "https://h/p?access%5Ftoken=[REDACTED]");
  // No value, empty value, first parameter, repeated parameter.
  EXPECT_EQ(redact_url("https://h/?token&token=&token=a&token=b"),
            "https://h/?token&token=&token=[REDACTED]&token=[REDACTED]");
  // The fragment (OAuth implicit flow) and a password in the authority.
  EXPECT_EQ(redact_url("https://h/cb?state=1#access_token=x&expires_in=3600"),
            "https://h/cb?state=1#access_token=[REDACTED]&expires_in=3600");
  EXPECT_EQ(redact_url("https://user:pw@h:8443/p?sig=z"), "https://user:[REDACTED]@h:8443/p?sig=[REDACTED]");
  EXPECT_EQ(redact_url("/origin-form?code=abc"), "/origin-form?code=[REDACTED]");
  EXPECT_EQ(redact_url("https://h/path"), "https://h/path");
  EXPECT_EQ(redact_url(""), "");
  // "://" inside the query is not an authority.
  EXPECT_EQ(redact_url("/p?next=https://u:p@x/&key=1"), "/p?next=https://u:p@x/&key=[REDACTED]");
}

TEST(RequestLogRedaction, SecretValuesAnywhereInTheEntry) {
  const std::string secret = "ghp_REALTOKEN123";
  auto e = sample_entry();
  e.url = "https://api.example.com/repos/" + secret + "/x?q=" + secret;
  e.request_headers = {{"X-Echo", "prefix " + secret + " suffix"}, {"Accept", "*/*"}};
  e.response_headers = {{"X-Reflected", secret + secret}};
  e.request_body = "{\"t\":\"" + secret + "\"}";
  e.request_bytes = e.request_body.size();
  e.response_body = "echo: " + secret;
  e.response_bytes = e.response_body.size();
  e.error = "origin said " + secret;
  std::array<std::string_view, 1> secrets{secret};
  auto o = logged(std::move(e), {.secrets = secrets});
  auto line = json::serialize(o);
  EXPECT_EQ(line.find("REALTOKEN"), std::string::npos) << line;
  EXPECT_EQ(str(o, "url"), "https://api.example.com/repos/[REDACTED]/x?q=[REDACTED]");
  EXPECT_EQ(header_value(o, "request_headers", "X-Echo"), "prefix [REDACTED] suffix");
  EXPECT_EQ(header_value(o, "response_headers", "X-Reflected"), "[REDACTED][REDACTED]");
  EXPECT_EQ(str(o, "request_body"), "{\"t\":\"[REDACTED]\"}");
  EXPECT_EQ(str(o, "response_body"), "echo: [REDACTED]");
  EXPECT_EQ(str(o, "error"), "origin said [REDACTED]");
}

TEST(RequestLogRedaction, OverlappingSecretsTheLongestWins) {
  std::array<std::string_view, 3> secrets{"abc", "abcdef", ""};  // an empty secret matches nothing
  EXPECT_EQ(redact_secrets("xabcdefy abcz", secrets), "x[REDACTED]y [REDACTED]z");
  EXPECT_EQ(redact_secrets("no secret here", secrets), "no secret here");
}

// The body prefix limit can cut a secret in two: the part before the limit
// must not reach the log.
TEST(RequestLogRedaction, SecretCutByThePrefixLimit) {
  const std::string secret = "sk-live-0123456789ABCDEF";
  const size_t limit = RequestLog::kBodyPrefix;
  std::array<std::string_view, 1> secrets{secret};
  for (size_t inside : {size_t(1), size_t(5), secret.size() - 1}) {
    std::string body(limit - inside, 'a');
    body += secret;
    body += std::string(100, 'b');
    std::string expected = std::string(limit - inside, 'a') + std::string(kR);
    // The caller captured more than the limit: the secret is seen whole.
    EXPECT_EQ(redact_body_prefix(body, body.size(), secrets), expected) << inside;
    // The caller captured exactly the limit: only the secret's start is there.
    EXPECT_EQ(redact_body_prefix(body.substr(0, limit), body.size(), secrets), expected) << inside;
    // The caller does not know the body's length (0): treated as cut.
    EXPECT_EQ(redact_body_prefix(body.substr(0, limit), 0, secrets), expected) << inside;
  }
  // A secret that ends exactly at the limit is whole.
  std::string exact = std::string(limit - secret.size(), 'a') + secret;
  EXPECT_EQ(redact_body_prefix(exact + "tail", exact.size() + 4, secrets),
            std::string(limit - secret.size(), 'a') + std::string(kR));
  // A whole short body that merely ends like the start of a secret is kept.
  EXPECT_EQ(redact_body_prefix("price: sk-", 10, secrets), "price: sk-");
  // ... but the same bytes as a cut prefix are not.
  EXPECT_EQ(redact_body_prefix("price: sk-", 4000, secrets), "price: [REDACTED]");
}

TEST(RequestLogRedaction, CutSecretThroughSubmit) {
  const std::string secret = "Bearer-REAL-SECRET-VALUE";
  auto e = sample_entry();
  e.request_body = std::string(RequestLog::kBodyPrefix - 7, 'x') + secret.substr(0, 7);  // captured up to the limit
  e.request_bytes = RequestLog::kBodyPrefix + 1000;
  std::array<std::string_view, 1> secrets{secret};
  auto o = logged(std::move(e), {.secrets = secrets});
  auto body = str(o, "request_body");
  EXPECT_EQ(body, std::string(RequestLog::kBodyPrefix - 7, 'x') + std::string(kR));
  EXPECT_EQ(body.find("Bearer"), std::string::npos);
}

TEST(RequestLogRedaction, NoBodiesUnlessAskedFor) {
  auto e = sample_entry();
  e.request_body = "request body";
  e.response_body = "response body";
  auto o = logged(std::move(e), {}, false);
  EXPECT_FALSE(o.contains("request_body"));
  EXPECT_FALSE(o.contains("response_body"));
  EXPECT_FALSE(o.contains("request_body_base64"));
}

// ---- JSON for arbitrary bytes -------------------------------------------------

TEST(RequestLogJson, ControlBytesAndMalformedUtf8InHeadFields) {
  auto e = sample_entry();
  std::string nasty = "q\" b\\ nl\n cr\r tab\t nul";
  nasty.push_back('\0');
  nasty += " esc\x1b del\x7f bad\xff lone\xc3 surrogate\xed\xa0\x80 overlong\xc0\xaf ok caf\xc3\xa9 \xf0\x9f\x98\x80";
  e.url = "https://h/" + nasty;
  e.request_headers = {{"X-" + nasty, nasty}};
  e.error = nasty;
  auto line = format_request_log_line(e, true);
  EXPECT_EQ(line.find('\n'), std::string::npos);
  auto o = parse_line(line);
  auto expected_text =
      std::string("q\" b\\ nl\n cr\r tab\t nul") + '\0' +
      " esc\x1b del\x7f bad\xef\xbf\xbd lone\xef\xbf\xbd surrogate\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd "
      "overlong\xef\xbf\xbd\xef\xbf\xbd ok caf\xc3\xa9 \xf0\x9f\x98\x80";
  EXPECT_EQ(str(o, "error"), expected_text);
  EXPECT_EQ(str(o, "url"), "https://h/" + expected_text);
}

TEST(RequestLogJson, BinaryBodiesAreBase64TextBodiesAreText) {
  auto e = sample_entry();
  std::string all;
  for (int c = 0; c < 256; ++c) all.push_back(char(c));
  e.request_body = all;
  e.request_bytes = all.size();
  e.response_body = "{\"text\":\"caf\xc3\xa9\"}\n";
  e.response_bytes = e.response_body.size();
  auto o = logged(e);
  EXPECT_FALSE(o.contains("request_body"));
  std::string decoded;
  ASSERT_TRUE(auth::base64_decode(str(o, "request_body_base64"), decoded));
  EXPECT_EQ(decoded, all);
  EXPECT_EQ(str(o, "response_body"), e.response_body);
}

TEST(RequestLogJson, MultibyteCharacterCutByTheLimitStaysText) {
  auto e = sample_entry();
  // 8191 bytes of text, then a 3-byte character across the limit.
  std::string body = std::string(RequestLog::kBodyPrefix - 1, 'x') + "\xe2\x82\xac" + "more";
  e.response_body = body;
  e.response_bytes = body.size();
  auto o = logged(e);
  EXPECT_EQ(str(o, "response_body"), std::string(RequestLog::kBodyPrefix - 1, 'x'));
  // A whole body that ends in a cut character is not text: kept exactly.
  e.response_body = "abc\xe2\x82";
  e.response_bytes = 5;
  o = logged(e);
  std::string decoded;
  ASSERT_TRUE(auth::base64_decode(str(o, "response_body_base64"), decoded));
  EXPECT_EQ(decoded, "abc\xe2\x82");
}

TEST(RequestLogJson, RandomBytesEverywhereAlwaysParse) {
  std::mt19937 rng(12345);
  auto random_bytes = [&](size_t max) {
    std::string s(rng() % max, '\0');
    for (auto& c : s) c = char(rng() % 256);
    return s;
  };
  for (int i = 0; i < 500; ++i) {
    RequestLogEntry e;
    e.client = random_bytes(20);
    e.method = random_bytes(10);
    e.url = redact_url(random_bytes(200));
    e.route = random_bytes(20);
    e.injected = {random_bytes(10)};
    e.request_headers = {{random_bytes(20), random_bytes(50)}};
    e.response_headers = {{random_bytes(20), random_bytes(50)}};
    e.request_body = redact_body_prefix(random_bytes(300), 1 << 20, {});
    e.response_body = random_bytes(300);
    e.error = random_bytes(30);
    e.duration_ms = i == 0 ? std::numeric_limits<double>::infinity() : double(rng() % 100000) / 7;
    auto line = format_request_log_line(e, true);
    boost::system::error_code ec;
    auto v = json::parse(line, ec);
    ASSERT_FALSE(ec) << i << ": " << line;
    ASSERT_TRUE(v.is_object());
  }
}

// ---- queue, drops, never blocking ---------------------------------------------

TEST(RequestLogQueue, DropsAreCountedAndNotedOnceTheWriterCatchesUp) {
  TestWriter w(true);
  RequestLog log(w.writer(), false, {.max_entries = 2, .max_bytes = 1 << 20});
  ReleaseOnExit guard{w};
  auto entry = [](int n) {
    auto e = sample_entry();
    e.status = n;
    return e;
  };
  log.submit(entry(1));
  w.wait_until_stalled();  // the writer holds entry 1 and is stuck in write()
  log.submit(entry(2));
  log.submit(entry(3));  // the queue (2 entries) is full now
  for (int i = 4; i <= 8; ++i) log.submit(entry(i));
  EXPECT_EQ(log.dropped(), 5u);
  w.release();
  log.flush();
  auto lines = split_lines(w.text());
  ASSERT_EQ(lines.size(), 4u) << w.text();
  EXPECT_EQ(parse_line(lines[0]).at("status").as_int64(), 1);
  EXPECT_EQ(parse_line(lines[1]).at("status").as_int64(), 2);
  EXPECT_EQ(parse_line(lines[2]).at("status").as_int64(), 3);
  auto note = parse_line(lines[3]);
  EXPECT_EQ(str(note, "event"), "request_log_dropped");
  EXPECT_EQ(note.at("count").as_int64(), 5);
  // Later drops are noted with their own count, not the total.
  EXPECT_EQ(log.dropped(), 5u);
}

TEST(RequestLogQueue, BoundedInBytesToo) {
  TestWriter w(true);
  auto big = sample_entry();
  big.response_body = std::string(6000, 'z');
  big.response_bytes = 6000;
  RequestLog log(w.writer(), true, {.max_entries = 1000, .max_bytes = 16 * 1024});
  ReleaseOnExit guard{w};
  log.submit(sample_entry());
  w.wait_until_stalled();
  for (int i = 0; i < 5; ++i) log.submit(RequestLogEntry(big));
  EXPECT_EQ(log.dropped(), 3u);  // two entries of ~6.5 KB fit in 16 KiB, not three
  w.release();
  log.flush();
  auto lines = split_lines(w.text());
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(parse_line(lines[3]).at("count").as_int64(), 3);
}

TEST(RequestLogQueue, AnEntryLargerThanTheByteBoundIsNotedWithoutFurtherTraffic) {
  TestWriter w(false);
  RequestLog log(w.writer(), true, {.max_entries = 10, .max_bytes = 4096});
  log.submit(sample_entry());
  // After flush() the writer is asleep: it gives up the lock only inside its
  // wait, and nothing is left to do.
  log.flush();
  auto big = sample_entry();
  big.response_body = std::string(6000, 'z');
  big.response_bytes = 6000;
  log.submit(std::move(big));
  EXPECT_EQ(log.dropped(), 1u);
  // Nothing else is submitted: the writer must wake for the drop alone.
  EXPECT_TRUE(w.wait_for_text("\"count\":1}", 10s)) << w.text();
}

TEST(RequestLogQueue, SubmitNeverWaitsForAStalledWriter) {
  TestWriter w(true);
  RequestLog log(w.writer(), true, {.max_entries = 64, .max_bytes = 1 << 20});
  ReleaseOnExit guard{w};
  log.submit(sample_entry());
  w.wait_until_stalled();
  // 10,000 submits while the writer stays stalled; if submit waited for the
  // writer this would not finish until release().
  auto submits = std::async(std::launch::async, [&] {
    auto worst = std::chrono::nanoseconds(0);
    for (int i = 0; i < 10000; ++i) {
      auto t0 = std::chrono::steady_clock::now();
      log.submit(sample_entry());
      worst = std::max(worst, std::chrono::steady_clock::now() - t0);
    }
    return worst;
  });
  ASSERT_EQ(submits.wait_for(30s), std::future_status::ready) << "submit blocked on a stalled writer";
  auto worst = submits.get();
  EXPECT_EQ(w.calls(), 1);  // still stalled in its first write
  EXPECT_EQ(log.dropped(), 10000u - 64u);
  RecordProperty("worst_submit_us", int(std::chrono::duration_cast<std::chrono::microseconds>(worst).count()));
  w.release();
  log.flush();
  EXPECT_EQ(split_lines(w.text()).size(), 1u + 64u + 1u);
}

TEST(RequestLogQueue, DestructorWritesEverything) {
  TestWriter w(false);
  {
    RequestLog log(w.writer(), false);
    for (int i = 0; i < 1000; ++i) log.submit(sample_entry());
  }
  auto lines = split_lines(w.text());
  EXPECT_EQ(lines.size(), 1000u);
  for (const auto& l : lines) EXPECT_EQ(str(parse_line(l), "event"), "request");
}

TEST(RequestLogQueue, FailedWritesAreCountedAndNotedLater) {
  TestWriter w(false);
  RequestLog log(w.writer(), false);
  w.fail_next_writes(1);
  log.submit(sample_entry());
  log.flush();
  EXPECT_EQ(log.dropped(), 1u);
  EXPECT_EQ(w.text(), "");
  log.submit(sample_entry());
  log.flush();
  auto lines = split_lines(w.text());
  ASSERT_EQ(lines.size(), 2u) << w.text();
  EXPECT_EQ(str(parse_line(lines[0]), "event"), "request");
  auto note = parse_line(lines[1]);
  EXPECT_EQ(str(note, "event"), "request_log_dropped");
  EXPECT_EQ(note.at("count").as_int64(), 1);
}

}  // namespace
}  // namespace ferry
