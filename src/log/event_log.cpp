#include "log/event_log.h"

#include <spdlog/async.h>
#include <spdlog/async_logger.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cmath>
#include <ctime>

namespace ferry {

const char* log_level_name(LogLevel level) {
  switch (level) {
    case LogLevel::debug: return "debug";
    case LogLevel::info: return "info";
    case LogLevel::warn: return "warn";
    case LogLevel::error: return "error";
    case LogLevel::off: return "off";
  }
  return "info";
}

namespace {

void append_json_string(std::string& out, std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  out.push_back('"');
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out.append("\\\""); break;
      case '\\': out.append("\\\\"); break;
      case '\n': out.append("\\n"); break;
      case '\r': out.append("\\r"); break;
      case '\t': out.append("\\t"); break;
      default:
        if (c < 0x20 || c == 0x7f) {
          out.append("\\u00");
          out.push_back(hex[c >> 4]);
          out.push_back(hex[c & 15]);
        } else {
          out.push_back(ch);  // UTF-8 passes through; invalid bytes are the caller's input
        }
    }
  }
  out.push_back('"');
}

}  // namespace

std::string json_quote(std::string_view s) {
  std::string out;
  append_json_string(out, s);
  return out;
}

namespace {

// Text format: values with spaces, quotes or control bytes are quoted and escaped.
void append_text_value(std::string& out, std::string_view s) {
  bool plain = !s.empty();
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c == '"' || c == '=' || c == 0x7f) plain = false;
  }
  if (plain) out.append(s);
  else append_json_string(out, s);
}

void append_value(std::string& out, const LogField::Value& v, bool json) {
  std::visit(
      [&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, std::string_view>) {
          if (json) append_json_string(out, x);
          else append_text_value(out, x);
        } else if constexpr (std::is_same_v<T, bool>) {
          out.append(x ? "true" : "false");
        } else if constexpr (std::is_same_v<T, double>) {
          if (!std::isfinite(x)) {
            out.append(json ? "null" : "-");  // JSON has no inf/nan
            return;
          }
          char buf[32];
          int n = std::snprintf(buf, sizeof buf, "%.3f", x);
          out.append(buf, size_t(n));
        } else {
          out.append(std::to_string(x));
        }
      },
      v);
}

std::string now_timestamp() {
  auto now = std::chrono::system_clock::now();
  auto secs = std::chrono::system_clock::to_time_t(now);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, int(ms));
  return buf;
}

}  // namespace

std::string format_event(LogFormat format, LogLevel level, std::string_view event,
                         std::initializer_list<LogField> fields, std::string_view timestamp) {
  std::string out;
  out.reserve(256);
  if (format == LogFormat::json) {
    out.append("{\"ts\":\"");
    out.append(timestamp);
    out.append("\",\"level\":\"");
    out.append(log_level_name(level));
    out.append("\",\"event\":");
    append_json_string(out, event);
    for (const auto& f : fields) {
      out.push_back(',');
      append_json_string(out, f.key);
      out.push_back(':');
      append_value(out, f.value, true);
    }
    out.push_back('}');
  } else {
    out.append(timestamp);
    out.push_back(' ');
    out.append(log_level_name(level));
    out.push_back(' ');
    out.append(event);
    for (const auto& f : fields) {
      out.push_back(' ');
      out.append(f.key);
      out.push_back('=');
      append_value(out, f.value, false);
    }
  }
  return out;
}

EventLog::EventLog(LogFormat format, LogLevel level) : format_(format), level_(level) {
  pool_ = std::make_shared<spdlog::details::thread_pool>(8192, 1);
  auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  logger_ = std::make_shared<spdlog::async_logger>("ferry", std::move(sink), pool_,
                                                   spdlog::async_overflow_policy::overrun_oldest);
  logger_->set_pattern("%v");
  logger_->set_level(spdlog::level::trace);
  logger_->flush_on(spdlog::level::trace);
}

EventLog::EventLog(LogFormat format, LogLevel level, std::shared_ptr<spdlog::sinks::sink> sink)
    : format_(format), level_(level) {
  logger_ = std::make_shared<spdlog::logger>("ferry", std::move(sink));
  logger_->set_pattern("%v");
  logger_->set_level(spdlog::level::trace);
}

EventLog::~EventLog() { flush(); }

void EventLog::log(LogLevel level, std::string_view event, std::initializer_list<LogField> fields) {
  if (!enabled(level)) return;
  auto line = format_event(format_, level, event, fields, now_timestamp());
  logger_->log(spdlog::level::info, line);
}

void EventLog::flush() {
  if (logger_) logger_->flush();
}

uint64_t EventLog::dropped() const { return pool_ ? pool_->overrun_counter() : 0; }

}  // namespace ferry
