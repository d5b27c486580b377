#pragma once
// A small strict XML reader for AWS query-API answers (STS): elements,
// attributes (skipped), text with the five predefined entities and
// character references, an optional <?xml …?> declaration and comments.
// Anything else — a DOCTYPE, CDATA, processing instructions inside the
// document, mismatched or unclosed tags, text outside the root, a stray
// '<' or '&', nesting deeper than 32 — is malformed: no XML library, no
// entity expansion, nothing to be clever about.
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/expected.h"

namespace ferry::aws {

struct XmlElement {
  std::string name;  // local name: a "prefix:" is dropped
  std::string text;  // the element's own text, entities decoded, untrimmed
  std::vector<XmlElement> children;

  // The first child of that name, or null.
  const XmlElement* child(std::string_view n) const;
  // Follows names from this element ("A/B/C"); null when one is missing.
  const XmlElement* find(std::string_view path) const;
};

Expected<XmlElement> parse_xml(std::string_view document);

// Overwrites every text of the tree (it held credentials).
void wipe(XmlElement& e);

}  // namespace ferry::aws
