#pragma once
// A credential as written in an [[inject]] rule: literal text mixed with
// references, e.g. "Bearer ${env:GITHUB_TOKEN}".
//
//   ${env:NAME}     read once, when the config is loaded
//   ${file:PATH}    read when loaded, re-read when the file changes (checked
//                   at most once a second by mtime, size and inode)
//   ${exec:COMMAND} `/bin/sh -c COMMAND` (stdout), run on first use and again
//                   after `ttl` or invalidate(); 10 s timeout
//
// A file's content and a command's output lose one trailing "\n" (or "\r\n").
// "$${" writes a literal "${"; any other '$' is literal. Braces inside a
// reference nest, so ${exec:awk '{print $1}' f} is one reference.
//
// Nothing here ever puts a value into an error or a description: errors name
// the reference ("${env:NAME}", the file, the command), never what it held.
// Thread-safe: workers share one SecretValue, and a refresh runs once while
// the other callers wait for it.
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/duration.h"
#include "base/expected.h"
#include "base/secret.h"

namespace ferry {

class SecretValue {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;
  // Same shape as routing's GetEnv, so process_env() can be passed.
  using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;

  struct Options {
    Millis ttl{5 * 60 * 1000};         // how long an exec result is reused
    Millis exec_timeout{10 * 1000};    // then the command's process group is killed
    Millis file_check_interval{1000};  // stat a file at most this often
    Clock clock;                       // default: steady_clock::now
  };

  // Parses a template, reading env references and files now. Errors name the
  // reference at fault (a missing variable by NAME), never a value.
  static Expected<SecretValue> parse(std::string_view text, const EnvLookup& env, Options options);
  static Expected<SecretValue> parse(std::string_view text, const EnvLookup& env) {
    return parse(text, env, Options{});
  }

  SecretValue(SecretValue&&) noexcept;
  SecretValue& operator=(SecretValue&&) noexcept;
  ~SecretValue();

  // The value now. May run a command or read a file: see may_block().
  Expected<Secret> current() const;
  // The next current() re-runs commands and re-checks files (after a 401).
  void invalidate() const;
  // True when current() may read a file or run a command: call it off the event loop.
  bool may_block() const;
  // The template with every literal run shown as "<literal>" and references
  // as written: "<literal>${env:GITHUB_TOKEN}". Safe to print.
  std::string describe() const;

 private:
  struct State;
  explicit SecretValue(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace ferry
