#include "aws/xml_extract.h"

#include <cstdint>

#include "aws/utf8.h"
#include "base/secret.h"

namespace ferry::aws {

const XmlElement* XmlElement::child(std::string_view n) const {
  for (const auto& c : children)
    if (c.name == n) return &c;
  return nullptr;
}

const XmlElement* XmlElement::find(std::string_view path) const {
  const XmlElement* at = this;
  while (at && !path.empty()) {
    const size_t slash = path.find('/');
    at = at->child(path.substr(0, slash));
    path = slash == path.npos ? std::string_view() : path.substr(slash + 1);
  }
  return at;
}

namespace {

constexpr int kMaxDepth = 32;

bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
         c == '.' || c == ':' || static_cast<unsigned char>(c) >= 0x80;
}
bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

class Parser {
 public:
  explicit Parser(std::string_view s) : s_(s) {}

  Expected<XmlElement> document() {
    skip_space();
    if (s_.substr(i_, 5) == "<?xml") {
      const size_t end = s_.find("?>", i_);
      if (end == s_.npos) return fail("unterminated XML declaration");
      i_ = end + 2;
    }
    if (auto r = skip_misc(); !r) return fail(r.error());
    if (i_ >= s_.size() || s_[i_] != '<') return fail("no root element");
    XmlElement root;
    if (auto r = element(root, 0); !r) return fail(r.error());
    if (auto r = skip_misc(); !r) return fail(r.error());
    if (i_ != s_.size()) return fail("content after the root element");
    return root;
  }

 private:
  void skip_space() {
    while (i_ < s_.size() && is_space(s_[i_])) ++i_;
  }

  // Whitespace and comments between top-level items.
  Expected<bool> skip_misc() {
    for (;;) {
      skip_space();
      if (s_.substr(i_, 4) != "<!--") return true;
      if (auto r = comment(); !r) return r;
    }
  }

  Expected<bool> comment() {
    const size_t end = s_.find("-->", i_ + 4);
    if (end == s_.npos) return fail("unterminated comment");
    i_ = end + 3;
    return true;
  }

  Expected<std::string> name() {
    const size_t start = i_;
    while (i_ < s_.size() && is_name_char(s_[i_])) ++i_;
    if (i_ == start) return fail("expected a name at offset " + std::to_string(start));
    return std::string(s_.substr(start, i_ - start));
  }

  static std::string local(const std::string& qname) {
    const size_t colon = qname.rfind(':');
    return colon == qname.npos ? qname : qname.substr(colon + 1);
  }

  // "&…;" at i_, decoded onto out.
  Expected<bool> entity(std::string& out) {
    const size_t semi = s_.find(';', i_);
    if (semi == s_.npos || semi - i_ > 12) return fail("bad '&' at offset " + std::to_string(i_));
    const std::string_view ref = s_.substr(i_ + 1, semi - i_ - 1);
    i_ = semi + 1;
    if (ref == "amp") out += '&';
    else if (ref == "lt") out += '<';
    else if (ref == "gt") out += '>';
    else if (ref == "quot") out += '"';
    else if (ref == "apos") out += '\'';
    else if (ref.size() >= 2 && ref[0] == '#') {
      const bool hex = ref[1] == 'x';
      const std::string_view digits = ref.substr(hex ? 2 : 1);
      if (digits.empty()) return fail("bad character reference");
      uint32_t cp = 0;
      for (char c : digits) {
        int d = -1;
        if (c >= '0' && c <= '9') d = c - '0';
        else if (hex && c >= 'a' && c <= 'f') d = c - 'a' + 10;
        else if (hex && c >= 'A' && c <= 'F') d = c - 'A' + 10;
        if (d < 0) return fail("bad character reference");
        cp = cp * (hex ? 16 : 10) + uint32_t(d);
        if (cp > 0x10FFFF) return fail("bad character reference");
      }
      if (cp == 0 || (cp >= 0xD800 && cp <= 0xDFFF)) return fail("bad character reference");
      append_utf8(out, cp);
    } else {
      return fail("unknown entity '&" + std::string(ref.substr(0, 8)) + ";'");
    }
    return true;
  }

  // Skips attributes up to '>' or "/>"; true when self-closing.
  Expected<bool> attributes() {
    for (;;) {
      skip_space();
      if (i_ >= s_.size()) return fail("unterminated start tag");
      if (s_[i_] == '>') {
        ++i_;
        return false;
      }
      if (s_.substr(i_, 2) == "/>") {
        i_ += 2;
        return true;
      }
      auto n = name();
      if (!n) return fail(n.error());
      skip_space();
      if (i_ >= s_.size() || s_[i_] != '=') return fail("attribute without a value");
      ++i_;
      skip_space();
      if (i_ >= s_.size() || (s_[i_] != '"' && s_[i_] != '\'')) return fail("unquoted attribute value");
      const char q = s_[i_++];
      const size_t end = s_.find(q, i_);
      if (end == s_.npos) return fail("unterminated attribute value");
      if (s_.substr(i_, end - i_).find('<') != std::string_view::npos) return fail("'<' in an attribute value");
      i_ = end + 1;
    }
  }

  // An element starting at '<'.
  Expected<bool> element(XmlElement& out, int depth) {
    if (depth >= kMaxDepth) return fail("nested deeper than " + std::to_string(kMaxDepth));
    ++i_;  // '<'
    auto qname = name();
    if (!qname) return fail(qname.error());
    out.name = local(*qname);
    auto self_closing = attributes();
    if (!self_closing) return fail(self_closing.error());
    if (*self_closing) return true;
    for (;;) {
      if (i_ >= s_.size()) return fail("element <" + *qname + "> is not closed");
      const char c = s_[i_];
      if (c == '&') {
        if (auto r = entity(out.text); !r) return r;
        continue;
      }
      if (c != '<') {
        if (c == '>') return fail("stray '>' in text");
        out.text += c;
        ++i_;
        continue;
      }
      if (s_.substr(i_, 2) == "</") {
        i_ += 2;
        auto end = name();
        if (!end) return fail(end.error());
        if (*end != *qname) return fail("</" + *end + "> closes <" + *qname + ">");
        skip_space();
        if (i_ >= s_.size() || s_[i_] != '>') return fail("bad end tag </" + *end + ">");
        ++i_;
        return true;
      }
      if (s_.substr(i_, 4) == "<!--") {
        if (auto r = comment(); !r) return r;
        continue;
      }
      if (s_.substr(i_, 2) == "<!" || s_.substr(i_, 2) == "<?") return fail("CDATA, DOCTYPE or PI not accepted");
      XmlElement child;
      if (auto r = element(child, depth + 1); !r) return r;
      out.children.push_back(std::move(child));
    }
  }

  std::string_view s_;
  size_t i_ = 0;
};

}  // namespace

Expected<XmlElement> parse_xml(std::string_view document) { return Parser(document).document(); }

void wipe(XmlElement& e) {
  cleanse_string(e.text);
  for (auto& c : e.children) wipe(c);
}

}  // namespace ferry::aws
