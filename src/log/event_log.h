#pragma once
// Structured events on stderr, one per line (JSON or key=value text).
//
// Lines are handed to a background thread through a bounded queue that drops
// the oldest line when full: a slow terminal or pipe must never stall the
// proxy's event loops.
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <variant>

namespace spdlog {
class logger;
namespace details {
class thread_pool;
}
namespace sinks {
class sink;
}
}  // namespace spdlog

namespace ferry {

enum class LogLevel { debug = 0, info = 1, warn = 2, error = 3, off = 4 };
enum class LogFormat { json, text };

struct LogField {
  using Value = std::variant<std::string_view, int64_t, uint64_t, double, bool>;
  std::string_view key;
  Value value;

  LogField(std::string_view k, std::string_view v) : key(k), value(v) {}
  LogField(std::string_view k, const std::string& v) : key(k), value(std::string_view(v)) {}
  LogField(std::string_view k, const char* v) : key(k), value(std::string_view(v)) {}
  LogField(std::string_view k, int v) : key(k), value(int64_t(v)) {}
  LogField(std::string_view k, int64_t v) : key(k), value(v) {}
  LogField(std::string_view k, uint64_t v) : key(k), value(v) {}
  LogField(std::string_view k, double v) : key(k), value(v) {}
  LogField(std::string_view k, bool v) : key(k), value(v) {}
};

// Formats one event line (without newline). Pure, for tests.
std::string format_event(LogFormat format, LogLevel level, std::string_view event,
                         std::initializer_list<LogField> fields, std::string_view timestamp);

class EventLog {
 public:
  // Writes to stderr through a background thread.
  EventLog(LogFormat format, LogLevel level);
  // Writes synchronously to the given sink (tests).
  EventLog(LogFormat format, LogLevel level, std::shared_ptr<spdlog::sinks::sink> sink);
  ~EventLog();
  EventLog(const EventLog&) = delete;
  EventLog& operator=(const EventLog&) = delete;

  bool enabled(LogLevel level) const { return level >= level_; }
  void log(LogLevel level, std::string_view event, std::initializer_list<LogField> fields = {});
  void flush();
  // Lines dropped because the queue was full.
  uint64_t dropped() const;

 private:
  LogFormat format_;
  LogLevel level_;
  std::shared_ptr<spdlog::details::thread_pool> pool_;
  std::shared_ptr<spdlog::logger> logger_;
};

const char* log_level_name(LogLevel level);
// A JSON string literal for `s`, quotes included (for command output).
std::string json_quote(std::string_view s);

}  // namespace ferry
