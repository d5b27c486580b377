#include "intercept/secret_value.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>

#include "intercept/command_output.h"

namespace ferry {

namespace {

using TimePoint = std::chrono::steady_clock::time_point;

constexpr size_t kMaxValueBytes = 64 * 1024;
constexpr Millis kRetryAfterFailure{1000};

bool has_line_break_or_nul(std::string_view s) { return s.find_first_of(std::string_view("\r\n\0", 3)) != s.npos; }

// One trailing "\n" or "\r\n": what `echo` and most tools end their output with.
void trim_newline(std::string& s) {
  if (!s.empty() && s.back() == '\n') s.pop_back();
  if (!s.empty() && s.back() == '\r') s.pop_back();
}

struct FileIdentity {
  dev_t dev = 0;
  ino_t ino = 0;
  off_t size = 0;
  timespec mtime{};
  bool operator==(const FileIdentity& o) const {
    return dev == o.dev && ino == o.ino && size == o.size && mtime.tv_sec == o.mtime.tv_sec &&
           mtime.tv_nsec == o.mtime.tv_nsec;
  }
};

Expected<FileIdentity> stat_file(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return fail("cannot read ${file:" + path + "}: " + std::strerror(errno));
  return FileIdentity{st.st_dev, st.st_ino, st.st_size, st.st_mtim};
}

Expected<std::string> read_file(const std::string& path) {
  const std::string what = "${file:" + path + "}";
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fail("cannot read " + what + ": " + std::strerror(errno));
  std::string content;
  char buf[4096];
  bool too_large = false, failed = false;
  int err = 0;
  while (true) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      failed = true;
      err = errno;
      break;
    }
    if (n == 0) break;
    if (content.size() + size_t(n) > kMaxValueBytes) {
      too_large = true;
      break;
    }
    content.append(buf, size_t(n));
  }
  ::explicit_bzero(buf, sizeof buf);
  ::close(fd);
  if (failed || too_large) {
    cleanse_string(content);
    return fail("cannot read " + what + ": " +
                (too_large ? "larger than " + std::to_string(kMaxValueBytes) + " bytes" : std::strerror(err)));
  }
  trim_newline(content);
  return content;
}

// A resolved part must not be able to end a header line early.
Expected<Secret> checked(std::string value, const std::string& what) {
  if (has_line_break_or_nul(value)) {
    cleanse_string(value);
    return fail(what + " contains a CR, LF or NUL byte (not allowed in a header)");
  }
  return Secret(std::move(value));
}

bool is_env_name(std::string_view s) {
  if (s.empty() || (s[0] >= '0' && s[0] <= '9')) return false;
  for (char c : s)
    if (!(c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) return false;
  return true;
}

}  // namespace

struct SecretValue::State {
  enum class Kind { literal, env, file, exec };
  struct Part {
    Kind kind = Kind::literal;
    std::string ref;  // the variable name, path or command (never the value)
    Secret value;     // the literal text or the last value read
    bool have_value = false;
    // file
    FileIdentity identity;
    TimePoint next_check{};
    // exec
    TimePoint expires{};
    std::string last_error;  // cached for kRetryAfterFailure, so a failing command is not run per request
    TimePoint retry_at{};

    std::string describe() const {
      switch (kind) {
        case Kind::literal: return "<literal>";
        case Kind::env: return "${env:" + ref + "}";
        case Kind::file: return "${file:" + ref + "}";
        case Kind::exec: return "${exec:" + ref + "}";
      }
      return "";
    }
  };

  Options options;
  std::vector<Part> parts;
  std::mutex mu;  // held while a part refreshes: concurrent callers wait for one run
  std::atomic<bool> invalidated{false};

  Expected<bool> refresh_file(Part& p, TimePoint now, bool force) {
    if (!force && now < p.next_check) return true;
    p.next_check = now + options.file_check_interval;
    auto id = stat_file(p.ref);
    if (!id) return fail(id.error());
    if (p.have_value && *id == p.identity) return true;
    auto content = read_file(p.ref);
    if (!content) return fail(content.error());
    auto value = checked(std::move(*content), p.describe());
    if (!value) return fail(value.error());
    p.value = std::move(*value);
    p.identity = *id;
    p.have_value = true;
    return true;
  }

  Expected<bool> refresh_exec(Part& p, TimePoint now, bool force) {
    if (!force && p.have_value && now < p.expires) return true;
    if (!force && !p.last_error.empty() && now < p.retry_at) return fail(p.last_error);
    auto out = run_command_output(p.ref, options.exec_timeout, kMaxValueBytes);
    Expected<Secret> value = out ? [&] {
      trim_newline(*out);
      return checked(std::move(*out), p.describe());
    }()
                                 : Expected<Secret>(fail(out.error()));
    if (!value) {
      // A stale token is not served after a failure: the origin would only refuse it.
      p.value.wipe();
      p.have_value = false;
      p.last_error = value.error();
      p.retry_at = options.clock() + kRetryAfterFailure;
      return fail(p.last_error);
    }
    p.value = std::move(*value);
    p.have_value = true;
    p.last_error.clear();
    p.expires = options.clock() + options.ttl;
    return true;
  }
};

SecretValue::SecretValue(std::unique_ptr<State> state) : state_(std::move(state)) {}
SecretValue::SecretValue(SecretValue&&) noexcept = default;
SecretValue& SecretValue::operator=(SecretValue&&) noexcept = default;
SecretValue::~SecretValue() = default;

Expected<SecretValue> SecretValue::parse(std::string_view text, const EnvLookup& env, Options options) {
  if (!options.clock) options.clock = [] { return std::chrono::steady_clock::now(); };
  auto state = std::make_unique<State>();
  state->options = std::move(options);
  auto& parts = state->parts;
  std::string literal;
  auto flush_literal = [&]() -> Expected<bool> {
    if (literal.empty()) return true;
    if (has_line_break_or_nul(literal)) {
      cleanse_string(literal);
      return fail("the literal text contains a CR, LF or NUL byte (not allowed in a header)");
    }
    State::Part p;
    p.value = Secret(std::move(literal));
    p.have_value = true;
    parts.push_back(std::move(p));
    literal.clear();
    return true;
  };

  size_t i = 0;
  while (i < text.size()) {
    if (text.substr(i, 3) == "$${") {
      literal += "${";
      i += 3;
      continue;
    }
    if (text.substr(i, 2) != "${") {
      literal += text[i++];
      continue;
    }
    // Find the matching '}', letting braces inside the reference nest.
    size_t depth = 1, end = i + 2;
    for (; end < text.size(); ++end) {
      if (text[end] == '{') ++depth;
      else if (text[end] == '}' && --depth == 0) break;
    }
    if (end >= text.size()) {
      cleanse_string(literal);
      return fail(
          "unterminated '${' (a reference is ${env:NAME}, ${file:PATH} or ${exec:COMMAND}; write $${ for a "
          "literal '${')");
    }
    const std::string_view body = text.substr(i + 2, end - i - 2);
    const size_t colon = body.find(':');
    const std::string_view kind = body.substr(0, colon);
    const std::string arg(colon == body.npos ? std::string_view() : body.substr(colon + 1));
    State::Part p;
    p.ref = arg;
    if (kind == "env") p.kind = State::Kind::env;
    else if (kind == "file") p.kind = State::Kind::file;
    else if (kind == "exec") p.kind = State::Kind::exec;
    else {
      cleanse_string(literal);
      return fail("unknown reference '${" + std::string(kind.substr(0, 16)) +
                  ":...}' (use ${env:NAME}, ${file:PATH} or ${exec:COMMAND})");
    }
    if (colon == body.npos || arg.empty()) {
      cleanse_string(literal);
      return fail("'${" + std::string(kind) + ":...}' needs a " +
                  (kind == "env"    ? "variable name"
                   : kind == "file" ? "path"
                                    : "command"));
    }
    if (auto r = flush_literal(); !r) return fail(r.error());
    if (p.kind == State::Kind::env) {
      if (!is_env_name(arg)) return fail("'" + p.describe() + "' is not a valid environment variable name");
      auto v = env(arg);
      if (!v) return fail("environment variable " + arg + " is not set (" + p.describe() + ")");
      if (v->empty()) return fail("environment variable " + arg + " is empty (" + p.describe() + ")");
      auto value = checked(std::move(*v), p.describe());
      if (!value) return fail(value.error());
      p.value = std::move(*value);
      p.have_value = true;
    } else if (p.kind == State::Kind::file) {
      // Read now: a missing file is a config error, not a failed request later.
      if (auto r = state->refresh_file(p, state->options.clock(), true); !r) return fail(r.error());
    }
    parts.push_back(std::move(p));
    i = end + 1;
  }
  if (auto r = flush_literal(); !r) return fail(r.error());
  if (parts.empty()) return fail("is empty");
  return SecretValue(std::move(state));
}

Expected<Secret> SecretValue::current() const {
  auto& s = *state_;
  std::lock_guard lock(s.mu);
  const bool force = s.invalidated.exchange(false);
  const TimePoint now = s.options.clock();
  size_t total = 0;
  for (auto& p : s.parts) {
    Expected<bool> r = true;
    if (p.kind == State::Kind::file) r = s.refresh_file(p, now, force);
    else if (p.kind == State::Kind::exec) r = s.refresh_exec(p, now, force);
    if (!r) return fail(r.error());
    total += p.value.size();
  }
  std::string out;
  out.reserve(total);  // no reallocation leaves a partial copy in freed memory
  for (const auto& p : s.parts) out += p.value.view();
  return Secret(std::move(out));
}

void SecretValue::invalidate() const { state_->invalidated = true; }

bool SecretValue::may_block() const {
  for (const auto& p : state_->parts)
    if (p.kind == State::Kind::file || p.kind == State::Kind::exec) return true;
  return false;
}

std::string SecretValue::describe() const {
  std::string out;
  for (const auto& p : state_->parts) out += p.describe();
  return out;
}

}  // namespace ferry
