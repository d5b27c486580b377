#include "aws/flat_json.h"

#include <cstdint>

#include "aws/utf8.h"
#include "base/secret.h"

namespace ferry::aws {

FlatJsonObject::~FlatJsonObject() {
  for (auto& [k, v] : members_) cleanse_string(v.text);
}

const FlatJsonValue* FlatJsonObject::get(std::string_view key) const {
  for (const auto& [k, v] : members_)
    if (k == key) return &v;
  return nullptr;
}

namespace {

class Reader {
 public:
  explicit Reader(std::string_view s) : s_(s) {}

  Expected<bool> object(std::vector<std::pair<std::string, FlatJsonValue>>& out) {
    space();
    if (!eat('{')) return error("expected '{'");
    space();
    if (eat('}')) return end();
    for (;;) {
      space();
      std::string key;
      if (peek() != '"') return error("expected a member name");
      if (auto r = string(key); !r) return r;
      for (const auto& [k, v] : out)
        if (k == key) return error("duplicate member");
      space();
      if (!eat(':')) return error("expected ':'");
      space();
      FlatJsonValue v;
      if (auto r = value(v); !r) {
        cleanse_string(v.text);
        return r;
      }
      out.emplace_back(std::move(key), std::move(v));
      space();
      if (eat(',')) continue;
      if (eat('}')) return end();
      return error("expected ',' or '}'");
    }
  }

 private:
  char peek() const { return i_ < s_.size() ? s_[i_] : '\0'; }
  bool eat(char c) {
    if (peek() != c || i_ >= s_.size()) return false;
    ++i_;
    return true;
  }
  void space() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) ++i_;
  }
  Unexpected<std::string> error(std::string_view what) const {
    return fail("not a flat JSON object: " + std::string(what) + " at offset " + std::to_string(i_));
  }
  Expected<bool> end() {
    space();
    if (i_ != s_.size()) return error("content after the object");
    return true;
  }

  Expected<bool> literal(std::string_view word, FlatJsonValue& v, FlatJsonValue::Kind kind) {
    if (s_.substr(i_, word.size()) != word) return error("unexpected value");
    i_ += word.size();
    v.kind = kind;
    v.text = word;
    return true;
  }

  Expected<bool> value(FlatJsonValue& v) {
    const char c = peek();
    if (c == '"') {
      v.kind = FlatJsonValue::Kind::string;
      return string(v.text);
    }
    if (c == 't') return literal("true", v, FlatJsonValue::Kind::boolean);
    if (c == 'f') return literal("false", v, FlatJsonValue::Kind::boolean);
    if (c == 'n') return literal("null", v, FlatJsonValue::Kind::null);
    if (c == '{' || c == '[') return error("nested objects and arrays are not accepted");
    return number(v);
  }

  Expected<bool> number(FlatJsonValue& v) {
    const size_t start = i_;
    auto digits = [&] {
      const size_t d = i_;
      while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') ++i_;
      return i_ > d;
    };
    eat('-');
    if (peek() == '0') ++i_;
    else if (!digits()) return error("bad number");
    if (eat('.') && !digits()) return error("bad number");
    if (peek() == 'e' || peek() == 'E') {
      ++i_;
      if (!eat('+')) eat('-');
      if (!digits()) return error("bad number");
    }
    v.kind = FlatJsonValue::Kind::number;
    v.text = s_.substr(start, i_ - start);
    return true;
  }

  Expected<uint32_t> hex4() {
    if (i_ + 4 > s_.size()) return error("bad \\u escape");
    uint32_t cp = 0;
    for (int k = 0; k < 4; ++k) {
      const char c = s_[i_++];
      int d = -1;
      if (c >= '0' && c <= '9') d = c - '0';
      else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
      else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
      if (d < 0) return error("bad \\u escape");
      cp = cp * 16 + uint32_t(d);
    }
    return cp;
  }

  Expected<bool> string(std::string& out) {
    ++i_;  // '"'
    for (;;) {
      if (i_ >= s_.size()) return error("unterminated string");
      const char c = s_[i_++];
      if (c == '"') return true;
      if (static_cast<unsigned char>(c) < 0x20) return error("control character in a string");
      if (c != '\\') {
        out += c;
        continue;
      }
      if (i_ >= s_.size()) return error("unterminated string");
      switch (s_[i_++]) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          auto hi = hex4();
          if (!hi) return fail(hi.error());
          uint32_t cp = *hi;
          if (cp >= 0xDC00 && cp <= 0xDFFF) return error("lone low surrogate");
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (s_.substr(i_, 2) != "\\u") return error("lone high surrogate");
            i_ += 2;
            auto lo = hex4();
            if (!lo) return fail(lo.error());
            if (*lo < 0xDC00 || *lo > 0xDFFF) return error("bad surrogate pair");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (*lo - 0xDC00);
          }
          append_utf8(out, cp);
          break;
        }
        default: return error("bad escape");
      }
    }
  }

  std::string_view s_;
  size_t i_ = 0;
};

}  // namespace

Expected<FlatJsonObject> FlatJsonObject::parse(std::string_view text) {
  FlatJsonObject obj;
  auto r = Reader(text).object(obj.members_);
  if (!r) return fail(r.error());
  return obj;
}

}  // namespace ferry::aws
