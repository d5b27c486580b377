#include "intercept/request_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>

#include "auth/basic_auth.h"
#include "base/host_port.h"
#include "base/secret.h"

namespace ferry {

namespace {

constexpr std::string_view kRedacted = "[REDACTED]";

constexpr std::string_view kCredentialHeaders[] = {"authorization", "proxy-authorization", "cookie", "set-cookie",
                                                   "x-api-key"};

// Query parameter names whose values are credentials often enough that a
// log must not keep them (OAuth, API keys, AWS presigned URLs).
constexpr std::string_view kSecretParams[] = {"token",
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
                                              "auth"};

// ---- UTF-8 -------------------------------------------------------------------

constexpr int kIncomplete = -1;

// The length (1-4) of the well-formed UTF-8 sequence at s[i] (Unicode table
// 3-7: no overlongs, no surrogates, nothing above U+10FFFF); 0 when
// malformed; kIncomplete when `s` ends inside a sequence well-formed so far.
int utf8_sequence(std::string_view s, size_t i) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned c = byte(i);
  if (c < 0x80) return 1;
  int len = 0;
  unsigned lo = 0x80, hi = 0xbf;  // the range of the second byte
  if (c >= 0xc2 && c <= 0xdf) {
    len = 2;
  } else if (c >= 0xe0 && c <= 0xef) {
    len = 3;
    if (c == 0xe0) lo = 0xa0;
    if (c == 0xed) hi = 0x9f;
  } else if (c >= 0xf0 && c <= 0xf4) {
    len = 4;
    if (c == 0xf0) lo = 0x90;
    if (c == 0xf4) hi = 0x8f;
  } else {
    return 0;
  }
  for (int k = 1; k < len; ++k) {
    if (i + k >= s.size()) return kIncomplete;
    unsigned d = byte(i + k);
    if (k == 1 ? (d < lo || d > hi) : (d < 0x80 || d > 0xbf)) return 0;
  }
  return len;
}

// How many leading bytes of `s` are well-formed UTF-8, and whether what
// follows is only a sequence cut short by the end of `s`.
struct Utf8Scan {
  size_t valid;
  bool cut_short;
};
Utf8Scan scan_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    int n = utf8_sequence(s, i);
    if (n <= 0) return {i, n == kIncomplete};
    i += size_t(n);
  }
  return {i, false};
}

// ---- JSON --------------------------------------------------------------------

// A JSON string for head text: see the header for what becomes of bytes
// that are not well-formed UTF-8.
void append_json_text(std::string& out, std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  out.push_back('"');
  size_t i = 0;
  while (i < s.size()) {
    int n = utf8_sequence(s, i);
    if (n <= 0) {
      out.append("\\ufffd");
      ++i;
      continue;
    }
    if (n > 1) {
      out.append(s.substr(i, size_t(n)));
      i += size_t(n);
      continue;
    }
    auto c = static_cast<unsigned char>(s[i++]);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(char(c));
    } else if (c == '\n') {
      out.append("\\n");
    } else if (c == '\r') {
      out.append("\\r");
    } else if (c == '\t') {
      out.append("\\t");
    } else if (c < 0x20 || c == 0x7f) {
      out.append("\\u00");
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    } else {
      out.push_back(char(c));
    }
  }
  out.push_back('"');
}

void append_key(std::string& out, std::string_view key) {
  out.push_back(',');
  out.push_back('"');
  out.append(key);
  out.append("\":");
}

void append_text_field(std::string& out, std::string_view key, std::string_view value) {
  append_key(out, key);
  append_json_text(out, value);
}

void append_number_field(std::string& out, std::string_view key, uint64_t value) {
  append_key(out, key);
  out.append(std::to_string(value));
}

void append_headers_field(std::string& out, std::string_view key, const RequestLogHeaders& headers) {
  append_key(out, key);
  out.push_back('[');
  for (size_t i = 0; i < headers.size(); ++i) {
    if (i) out.push_back(',');
    out.push_back('[');
    append_json_text(out, headers[i].first);
    out.push_back(',');
    append_json_text(out, headers[i].second);
    out.push_back(']');
  }
  out.push_back(']');
}

// Lossless: text when the prefix is well-formed UTF-8, else base64 under
// the key with "_base64" appended.
void append_body_field(std::string& out, std::string_view key, std::string_view body) {
  if (scan_utf8(body).valid == body.size()) {
    append_text_field(out, key, body);
    return;
  }
  append_key(out, std::string(key) + "_base64");
  out.push_back('"');
  out.append(auth::base64_encode(body));
  out.push_back('"');
}

// RFC 3339, UTC, milliseconds: 2026-12-03T15:36:15.123Z.
void append_time(std::string& out, std::chrono::system_clock::time_point t) {
  auto ms = std::chrono::floor<std::chrono::milliseconds>(t);
  auto secs = std::chrono::system_clock::to_time_t(std::chrono::floor<std::chrono::seconds>(ms));
  auto frac = (ms.time_since_epoch() - std::chrono::floor<std::chrono::seconds>(ms).time_since_epoch()).count();
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  int n = std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                        tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, int(frac));
  out.append(buf, size_t(n));
}

void append_line(std::string& out, const RequestLogEntry& e, bool bodies) {
  out.append("{\"time\":\"");
  append_time(out, e.time);
  out.append("\",\"event\":\"request\"");
  append_text_field(out, "client", e.client);
  append_text_field(out, "method", e.method);
  append_text_field(out, "url", e.url);
  append_key(out, "status");
  out.append(std::to_string(e.status));
  append_key(out, "duration_ms");
  if (std::isfinite(e.duration_ms)) {
    char buf[32];
    int n = std::snprintf(buf, sizeof buf, "%.3f", e.duration_ms);
    out.append(buf, size_t(n));
  } else {
    out.append("null");  // JSON has no inf/nan
  }
  append_text_field(out, "route", e.route);
  append_key(out, "rule");
  out.append(std::to_string(e.rule));
  append_key(out, "injected");
  out.append(e.injected.empty() ? "false" : "true");
  append_key(out, "injected_headers");
  out.push_back('[');
  for (size_t i = 0; i < e.injected.size(); ++i) {
    if (i) out.push_back(',');
    append_json_text(out, e.injected[i]);
  }
  out.push_back(']');
  append_headers_field(out, "request_headers", e.request_headers);
  append_headers_field(out, "response_headers", e.response_headers);
  append_number_field(out, "request_bytes", e.request_bytes);
  append_number_field(out, "response_bytes", e.response_bytes);
  if (bodies) {
    append_body_field(out, "request_body", e.request_body);
    append_body_field(out, "response_body", e.response_body);
  }
  if (!e.error.empty()) append_text_field(out, "error", e.error);
  out.push_back('}');
}

void append_drop_note(std::string& out, uint64_t count) {
  out.append("{\"time\":\"");
  append_time(out, std::chrono::system_clock::now());
  out.append("\",\"event\":\"request_log_dropped\"");
  append_number_field(out, "count", count);
  out.append("}\n");
}

// ---- redaction ----------------------------------------------------------------

bool is_one_of(std::string_view name, std::span<const std::string_view> names) {
  return std::any_of(names.begin(), names.end(), [&](std::string_view n) { return iequals(name, n); });
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// A parameter name as the server reads it ("access%5Ftoken" is access_token).
std::string decode_param_name(std::string_view name) {
  std::string out;
  for (size_t i = 0; i < name.size(); ++i) {
    if (name[i] == '%' && i + 2 < name.size() && hex_value(name[i + 1]) >= 0 && hex_value(name[i + 2]) >= 0) {
      out.push_back(char(hex_value(name[i + 1]) * 16 + hex_value(name[i + 2])));
      i += 2;
    } else {
      out.push_back(name[i] == '+' ? ' ' : name[i]);
    }
  }
  return out;
}

// "a=1&token=x" -> "a=1&token=[REDACTED]".
void append_redacted_params(std::string& out, std::string_view params) {
  while (true) {
    auto amp = params.find('&');
    auto param = params.substr(0, amp);
    auto eq = param.find('=');
    if (eq != std::string_view::npos && eq + 1 < param.size() &&
        is_one_of(decode_param_name(param.substr(0, eq)), kSecretParams)) {
      out.append(param.substr(0, eq + 1));
      out.append(kRedacted);
    } else {
      out.append(param);
    }
    if (amp == std::string_view::npos) return;
    out.push_back('&');
    params.remove_prefix(amp + 1);
  }
}

// The length of the longest secret that starts at text[i]; 0 when none.
size_t secret_at(std::string_view text, size_t i, std::span<const std::string_view> secrets) {
  size_t best = 0;
  auto rest = text.substr(i);
  for (auto s : secrets)
    if (!s.empty() && s.size() > best && rest.starts_with(s)) best = s.size();
  return best;
}

// Whether `tail` is the start (not all) of a secret: what is left of a
// secret the prefix limit cut in two.
bool starts_a_secret(std::string_view tail, std::span<const std::string_view> secrets) {
  return std::any_of(secrets.begin(), secrets.end(),
                     [&](std::string_view s) { return s.size() > tail.size() && s.starts_with(tail); });
}

std::string replace_secrets(std::string_view text, std::span<const std::string_view> secrets, bool cut) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    if (size_t n = secret_at(text, i, secrets)) {
      out.append(kRedacted);
      i += n;
    } else if (cut && starts_a_secret(text.substr(i), secrets)) {
      out.append(kRedacted);  // the earliest such tail is the longest
      break;
    } else {
      out.push_back(text[i++]);
    }
  }
  return out;
}

// Replaces `s` by `redacted`, wiping the old bytes when they differ (they
// held a secret).
void replace_wiped(std::string& s, std::string redacted) {
  if (redacted != s) cleanse_string(s);
  s = std::move(redacted);
}

void redact_headers(RequestLogHeaders& headers, const RequestLogRedaction& r) {
  for (auto& [name, value] : headers) {
    if (is_one_of(name, kCredentialHeaders) || is_one_of(name, r.headers)) {
      replace_wiped(value, std::string(kRedacted));
    } else if (!r.secrets.empty()) {
      replace_wiped(value, redact_secrets(value, r.secrets));
    }
  }
}

void redact_entry(RequestLogEntry& e, const RequestLogRedaction& r, bool bodies) {
  replace_wiped(e.url, redact_secrets(redact_url(e.url), r.secrets));
  redact_headers(e.request_headers, r);
  redact_headers(e.response_headers, r);
  if (!r.secrets.empty()) replace_wiped(e.error, redact_secrets(e.error, r.secrets));
  if (bodies) {
    replace_wiped(e.request_body, redact_body_prefix(e.request_body, e.request_bytes, r.secrets));
    replace_wiped(e.response_body, redact_body_prefix(e.response_body, e.response_bytes, r.secrets));
  } else {
    // Never queued, and the memory goes back now.
    cleanse_string(e.request_body);
    cleanse_string(e.response_body);
    std::string().swap(e.request_body);
    std::string().swap(e.response_body);
  }
}

// What an entry costs the queue, near enough.
size_t entry_bytes(const RequestLogEntry& e) {
  size_t n = sizeof e + e.client.size() + e.method.size() + e.url.size() + e.route.size() + e.error.size() +
             e.request_body.size() + e.response_body.size();
  for (const auto& h : e.injected) n += h.size() + sizeof(std::string);
  for (const auto* headers : {&e.request_headers, &e.response_headers})
    for (const auto& [name, value] : *headers) n += name.size() + value.size() + 2 * sizeof(std::string);
  return n;
}

// ---- the file ----------------------------------------------------------------

class LogFile {
 public:
  explicit LogFile(int fd) : fd_(fd) {}
  ~LogFile() { ::close(fd_); }
  LogFile(const LogFile&) = delete;
  LogFile& operator=(const LogFile&) = delete;

  bool write_all(std::string_view bytes) const {
    while (!bytes.empty()) {
      ssize_t n = ::write(fd_, bytes.data(), bytes.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      bytes.remove_prefix(size_t(n));
    }
    return true;
  }

 private:
  const int fd_;
};

}  // namespace

std::string redact_url(std::string_view url) {
  std::string out;
  out.reserve(url.size() + kRedacted.size());
  size_t done = 0;  // url[0, done) is in `out` already
  auto first_delim = url.find_first_of("/?#");
  auto scheme = url.find("://");
  if (scheme != std::string_view::npos && scheme < first_delim) {
    // The password of "scheme://user:password@host".
    size_t begin = scheme + 3;
    size_t end = std::min(url.find_first_of("/?#", begin), url.size());
    auto authority = url.substr(begin, end - begin);
    auto at = authority.rfind('@');
    auto colon = authority.find(':');
    if (at != std::string_view::npos && colon < at) {
      out.append(url.substr(0, begin + colon + 1));
      out.append(kRedacted);
      done = begin + at;
    }
  }
  auto query = url.find('?', done);
  auto fragment = url.find('#', done);
  if (query != std::string_view::npos && query < fragment) {
    out.append(url.substr(done, query + 1 - done));
    append_redacted_params(out,
                           url.substr(query + 1, fragment == std::string_view::npos ? url.npos : fragment - query - 1));
    done = fragment == std::string_view::npos ? url.size() : fragment;
  }
  if (fragment != std::string_view::npos) {
    // OAuth's implicit flow puts tokens in the fragment.
    out.append(url.substr(done, fragment + 1 - done));
    append_redacted_params(out, url.substr(fragment + 1));
    done = url.size();
  }
  out.append(url.substr(done));
  return out;
}

std::string redact_secrets(std::string_view text, std::span<const std::string_view> secrets) {
  return replace_secrets(text, secrets, false);
}

std::string redact_body_prefix(std::string_view captured, uint64_t body_bytes,
                               std::span<const std::string_view> secrets) {
  bool cut = captured.size() > RequestLog::kBodyPrefix || body_bytes != captured.size();
  auto prefix = captured.substr(0, RequestLog::kBodyPrefix);
  auto out = replace_secrets(prefix, secrets, cut);
  if (cut) {
    // A multi-byte character cut by the limit would turn a text body into
    // base64 in the log; drop its start instead.
    auto scan = scan_utf8(out);
    if (scan.cut_short) out.resize(scan.valid);
  }
  return out;
}

std::string format_request_log_line(const RequestLogEntry& entry, bool bodies) {
  std::string out;
  append_line(out, entry, bodies);
  return out;
}

Expected<std::unique_ptr<RequestLog>, std::string> RequestLog::open(const std::string& path, bool bodies,
                                                                    RequestLogLimits limits) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY, 0600);
  if (fd < 0) {
    int err = errno;
    if (err == EISDIR) return fail("request log " + path + " is a directory, not a file");
    return fail("cannot open request log " + path + ": " + std::strerror(err));
  }
  auto file = std::make_shared<LogFile>(fd);
  struct stat st {};
  if (::fstat(fd, &st) != 0) return fail("cannot stat request log " + path + ": " + std::strerror(errno));
  // An existing file keeps its mode on open(2); it may now receive bodies.
  if (S_ISREG(st.st_mode) && (st.st_mode & 07777) != 0600 && ::fchmod(fd, 0600) != 0)
    return fail("cannot set mode 0600 on request log " + path + ": " + std::strerror(errno));
  Writer writer = [file](std::string_view lines) { return file->write_all(lines); };
  return std::make_unique<RequestLog>(std::move(writer), bodies, limits);
}

RequestLog::RequestLog(Writer writer, bool bodies, RequestLogLimits limits)
    : writer_(std::move(writer)), bodies_(bodies), limits_(limits) {
  thread_ = std::thread([this] { run(); });
}

RequestLog::~RequestLog() {
  {
    std::lock_guard lk(mu_);
    stop_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

void RequestLog::submit(RequestLogEntry&& entry, RequestLogRedaction redaction) {
  if (entry.time == std::chrono::system_clock::time_point{}) entry.time = std::chrono::system_clock::now();
  redact_entry(entry, redaction, bodies_);
  size_t bytes = entry_bytes(entry);
  bool was_empty = false;
  {
    std::lock_guard lk(mu_);
    if (queue_.size() >= limits_.max_entries || queued_bytes_ + bytes > limits_.max_bytes) {
      ++queue_drops_;
      was_empty = queue_.empty();  // an entry larger than the byte bound alone
    } else {
      was_empty = queue_.empty();
      queue_.push_back({std::move(entry), bytes});
      queued_bytes_ += bytes;
      ++submitted_;
    }
  }
  // The writer sleeps only on an empty queue. A drop into a full queue needs
  // no wake-up: the writer has work and will see the count.
  if (was_empty) wake_.notify_one();
}

void RequestLog::flush() {
  std::unique_lock lk(mu_);
  uint64_t entries = submitted_, drops = queue_drops_;
  written_.wait(lk, [&] { return written_upto_ >= entries && drops_handled_ >= drops; });
}

uint64_t RequestLog::dropped() const {
  std::lock_guard lk(mu_);
  return queue_drops_ + write_drops_;
}

void RequestLog::run() {
  std::vector<Queued> batch;
  // Drops not yet in the file because their note (or their own lines) could
  // not be written; noted with the next batch, without waking for them alone
  // (a failing disk must not make the writer spin).
  uint64_t carried = 0;
  std::unique_lock lk(mu_);
  while (true) {
    wake_.wait(lk, [&] { return stop_ || !queue_.empty() || queue_drops_ > drops_handled_; });
    if (queue_.empty() && queue_drops_ == drops_handled_) return;  // stopping, and drained
    batch.swap(queue_);
    queued_bytes_ = 0;
    uint64_t upto = submitted_, drops_total = queue_drops_;
    uint64_t drops = drops_total - drops_handled_ + carried;
    lk.unlock();

    uint64_t lost = 0;
    bool noted = true;
    std::string out;
    size_t lines = 0;
    auto emit = [&] {
      if (!out.empty() && !writer_(out)) lost += lines;
      out.clear();
      lines = 0;
    };
    for (const auto& q : batch) {
      append_line(out, q.entry, bodies_);
      out.push_back('\n');
      ++lines;
      if (out.size() >= 256 * 1024) emit();  // bounded buffer, few writes
    }
    emit();
    if (drops) {
      append_drop_note(out, drops);
      noted = writer_(out);
    }
    batch.clear();  // frees the entries outside the lock

    lk.lock();
    write_drops_ += lost;
    carried = (noted ? 0 : drops) + lost;
    written_upto_ = upto;
    drops_handled_ = drops_total;
    written_.notify_all();
  }
}

}  // namespace ferry
