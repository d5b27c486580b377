// Structured log lines: JSON and text formatting, escaping, level filtering.
#include "log/event_log.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>

#include <cctype>
#include <cmath>
#include <limits>
#include <map>
#include <optional>
#include <sstream>
#include <string>

namespace ferry {
namespace {

// A tiny strict JSON reader: enough to prove a line is one valid JSON
// object and to get its members back (strings decoded, others as raw text).
class JsonReader {
 public:
  explicit JsonReader(std::string_view s) : s_(s) {}

  // Parses one object spanning the whole input.
  std::optional<std::map<std::string, std::string>> object() {
    std::map<std::string, std::string> out;
    if (!eat('{')) return std::nullopt;
    ws();
    if (eat('}')) return finish(out);
    while (true) {
      ws();
      auto key = string();
      if (!key) return std::nullopt;
      ws();
      if (!eat(':')) return std::nullopt;
      ws();
      auto value = any_value();
      if (!value) return std::nullopt;
      if (out.count(*key)) return std::nullopt;  // duplicate member
      out[*key] = *value;
      ws();
      if (eat(',')) continue;
      if (eat('}')) return finish(out);
      return std::nullopt;
    }
  }

 private:
  std::optional<std::map<std::string, std::string>> finish(std::map<std::string, std::string>& out) {
    ws();
    if (i_ != s_.size()) return std::nullopt;
    return out;
  }
  void ws() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) ++i_;
  }
  bool eat(char c) {
    if (i_ < s_.size() && s_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }
  static int hex(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }
  std::optional<std::string> string() {
    if (!eat('"')) return std::nullopt;
    std::string out;
    while (i_ < s_.size()) {
      auto c = static_cast<unsigned char>(s_[i_++]);
      if (c == '"') return out;
      if (c < 0x20) return std::nullopt;  // raw control characters are not allowed
      if (c != '\\') {
        out.push_back(char(c));
        continue;
      }
      if (i_ >= s_.size()) return std::nullopt;
      char e = s_[i_++];
      switch (e) {
        case '"': out.push_back('"'); break;
        case '\\': out.push_back('\\'); break;
        case '/': out.push_back('/'); break;
        case 'b': out.push_back('\b'); break;
        case 'f': out.push_back('\f'); break;
        case 'n': out.push_back('\n'); break;
        case 'r': out.push_back('\r'); break;
        case 't': out.push_back('\t'); break;
        case 'u': {
          if (i_ + 4 > s_.size()) return std::nullopt;
          int v = 0;
          for (int k = 0; k < 4; ++k) {
            int h = hex(s_[i_++]);
            if (h < 0) return std::nullopt;
            v = v * 16 + h;
          }
          if (v >= 0x80) return std::nullopt;  // not needed by these tests
          out.push_back(char(v));
          break;
        }
        default: return std::nullopt;
      }
    }
    return std::nullopt;
  }
  std::optional<std::string> number() {
    size_t start = i_;
    eat('-');
    if (i_ >= s_.size() || !std::isdigit(static_cast<unsigned char>(s_[i_]))) return std::nullopt;
    if (s_[i_] == '0') ++i_;
    else
      while (i_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[i_]))) ++i_;
    if (eat('.')) {
      if (i_ >= s_.size() || !std::isdigit(static_cast<unsigned char>(s_[i_]))) return std::nullopt;
      while (i_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[i_]))) ++i_;
    }
    if (eat('e') || eat('E')) {
      if (!eat('+')) eat('-');
      if (i_ >= s_.size() || !std::isdigit(static_cast<unsigned char>(s_[i_]))) return std::nullopt;
      while (i_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[i_]))) ++i_;
    }
    return std::string(s_.substr(start, i_ - start));
  }
  std::optional<std::string> literal(std::string_view word) {
    if (s_.substr(i_, word.size()) != word) return std::nullopt;
    i_ += word.size();
    return std::string(word);
  }
  std::optional<std::string> any_value() {
    if (i_ >= s_.size()) return std::nullopt;
    char c = s_[i_];
    if (c == '"') return string();
    if (c == 't') return literal("true");
    if (c == 'f') return literal("false");
    if (c == 'n') return literal("null");
    return number();
  }

  std::string_view s_;
  size_t i_ = 0;
};

std::optional<std::map<std::string, std::string>> parse_json(std::string_view line) {
  return JsonReader(line).object();
}

constexpr std::string_view kTs = "2024-01-02T03:04:05.678Z";

TEST(JsonReader, SelfCheck) {
  EXPECT_TRUE(parse_json(R"({"a":"b","n":-1.5e3,"t":true,"z":null})"));
  EXPECT_FALSE(parse_json(R"({"a":"b\x"})"));
  EXPECT_FALSE(parse_json("{\"a\":\"\n\"}"));
  EXPECT_FALSE(parse_json(R"({"a":nan})"));
  EXPECT_FALSE(parse_json(R"({"a":1}x)"));
  EXPECT_FALSE(parse_json(R"({"a":01})"));
}

TEST(FormatEvent, JsonExactLine) {
  auto line = format_event(LogFormat::json, LogLevel::info, "request",
                           {{"method", "GET"},
                            {"status", 200},
                            {"bytes", uint64_t(1234)},
                            {"ok", true},
                            {"reused", false},
                            {"ms", 1.5},
                            {"delta", int64_t(-7)}},
                           kTs);
  EXPECT_EQ(line, R"({"ts":"2024-01-02T03:04:05.678Z","level":"info","event":"request","method":"GET","status":200,)"
                  R"("bytes":1234,"ok":true,"reused":false,"ms":1.500,"delta":-7})");
  auto obj = parse_json(line);
  ASSERT_TRUE(obj) << line;
  EXPECT_EQ(obj->at("status"), "200");
  EXPECT_EQ(obj->at("ok"), "true");
}

TEST(FormatEvent, JsonEscaping) {
  std::string nasty = "quote\" backslash\\ newline\n cr\r tab\t bell\x07 esc\x1b del\x7f nul";
  nasty.push_back('\0');
  nasty += " utf8 caf\xc3\xa9";
  auto line = format_event(LogFormat::json, LogLevel::warn, "ev\"ent", {{"k\\ey", std::string_view(nasty)}}, kTs);
  EXPECT_NE(line.find(R"("quote\" backslash\\ newline\n cr\r tab\t bell\u0007 esc\u001b del\u007f nul\u0000)"),
            std::string::npos)
      << line;
  EXPECT_EQ(line.find('\n'), std::string::npos);
  auto obj = parse_json(line);
  ASSERT_TRUE(obj) << line;
  EXPECT_EQ(obj->at("event"), "ev\"ent");
  EXPECT_EQ(obj->at("k\\ey"), nasty);
  EXPECT_EQ(obj->at("level"), "warn");
}

TEST(FormatEvent, JsonEveryControlByteEscaped) {
  std::string all;
  for (int c = 0; c < 0x20; ++c) all.push_back(char(c));
  auto line = format_event(LogFormat::json, LogLevel::debug, "e", {{"v", std::string_view(all)}}, kTs);
  auto obj = parse_json(line);
  ASSERT_TRUE(obj) << line;
  EXPECT_EQ(obj->at("v"), all);
}

TEST(FormatEvent, JsonNumbers) {
  auto line = format_event(LogFormat::json, LogLevel::error, "e",
                           {{"max", std::numeric_limits<uint64_t>::max()},
                            {"min", std::numeric_limits<int64_t>::min()},
                            {"zero", 0.0},
                            {"neg", -2.25}},
                           kTs);
  auto obj = parse_json(line);
  ASSERT_TRUE(obj) << line;
  EXPECT_EQ(obj->at("max"), "18446744073709551615");
  EXPECT_EQ(obj->at("min"), "-9223372036854775808");
  EXPECT_EQ(obj->at("zero"), "0.000");
  EXPECT_EQ(obj->at("neg"), "-2.250");
}

TEST(FormatEvent, JsonNonFiniteDoubleStillValidJson) {
  // A rate computed over a zero interval is inf; NaN from 0/0. The line must
  // still be JSON (JSON has no inf/nan literals).
  auto line = format_event(LogFormat::json, LogLevel::info, "e",
                           {{"rate", std::numeric_limits<double>::infinity()},
                            {"ratio", std::numeric_limits<double>::quiet_NaN()}},
                           kTs);
  EXPECT_TRUE(parse_json(line)) << line;
}

TEST(FormatEvent, JsonNoFields) {
  auto line = format_event(LogFormat::json, LogLevel::info, "started", {}, kTs);
  EXPECT_EQ(line, R"({"ts":"2024-01-02T03:04:05.678Z","level":"info","event":"started"})");
}

TEST(FormatEvent, TextExactLine) {
  auto line = format_event(LogFormat::text, LogLevel::info, "request",
                           {{"method", "GET"}, {"status", 200}, {"ok", true}, {"ms", 0.25}}, kTs);
  EXPECT_EQ(line, "2024-01-02T03:04:05.678Z info request method=GET status=200 ok=true ms=0.250");
}

TEST(FormatEvent, TextQuoting) {
  struct Case {
    std::string_view value;
    std::string rendered;
  };
  const Case cases[] = {
      {"plain", "plain"},
      {"has space", R"("has space")"},
      {"", R"("")"},
      {"a=b", R"("a=b")"},
      {"say \"x\"", R"("say \"x\"")"},
      {"line\nbreak", R"("line\nbreak")"},
      {"esc\x1b[31m", R"("esc\u001b[31m")"},
      {"tab\t", R"("tab\t")"},
      {"back\\slash", "back\\slash"},
      {"caf\xc3\xa9", "caf\xc3\xa9"},
  };
  for (const auto& c : cases) {
    auto line = format_event(LogFormat::text, LogLevel::info, "e", {{"k", c.value}}, kTs);
    EXPECT_EQ(line, std::string(kTs) + " info e k=" + c.rendered) << testing::PrintToString(std::string(c.value));
    EXPECT_EQ(line.find('\n'), std::string::npos);
  }
}

TEST(LogLevelName, AllLevels) {
  EXPECT_STREQ(log_level_name(LogLevel::debug), "debug");
  EXPECT_STREQ(log_level_name(LogLevel::info), "info");
  EXPECT_STREQ(log_level_name(LogLevel::warn), "warn");
  EXPECT_STREQ(log_level_name(LogLevel::error), "error");
  EXPECT_STREQ(log_level_name(LogLevel::off), "off");
}

TEST(EventLog, WritesLinesAtOrAboveLevel) {
  std::ostringstream os;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(os);
  {
    EventLog log(LogFormat::json, LogLevel::warn, sink);
    EXPECT_FALSE(log.enabled(LogLevel::info));
    EXPECT_TRUE(log.enabled(LogLevel::error));
    log.log(LogLevel::info, "hidden");
    log.log(LogLevel::warn, "shown", {{"n", 1}});
    log.log(LogLevel::error, "also");
    log.flush();
    EXPECT_EQ(log.dropped(), 0u);
  }
  std::istringstream in(os.str());
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  ASSERT_EQ(lines.size(), 2u) << os.str();
  auto first = parse_json(lines[0]);
  ASSERT_TRUE(first) << lines[0];
  EXPECT_EQ(first->at("event"), "shown");
  EXPECT_EQ(first->at("level"), "warn");
  EXPECT_EQ(first->at("n"), "1");
  EXPECT_EQ(first->at("ts").size(), kTs.size());
  auto second = parse_json(lines[1]);
  ASSERT_TRUE(second) << lines[1];
  EXPECT_EQ(second->at("level"), "error");
}

TEST(EventLog, OffLogsNothing) {
  std::ostringstream os;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(os);
  {
    EventLog log(LogFormat::text, LogLevel::off, sink);
    log.log(LogLevel::error, "nope");
    log.flush();
  }
  EXPECT_TRUE(os.str().empty()) << os.str();
}

}  // namespace
}  // namespace ferry
