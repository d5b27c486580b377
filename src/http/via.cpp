#include "http/via.h"

#include <openssl/rand.h>

#include <stdexcept>

#include "base/host_port.h"
#include "http/message_framing.h"

namespace ferry::http {

Via::Via(std::string pseudonym) : received_by_("ferry-" + std::move(pseudonym)) {}

Via Via::random() {
  unsigned char bytes[6];
  if (RAND_bytes(bytes, sizeof bytes) != 1) throw std::runtime_error("RAND_bytes failed");
  static constexpr char hex[] = "0123456789abcdef";
  std::string p;
  for (unsigned char b : bytes) {
    p.push_back(hex[b >> 4]);
    p.push_back(hex[b & 15]);
  }
  return Via(std::move(p));
}

std::string Via::value(int version_minor) const { return (version_minor == 0 ? "1.0 " : "1.1 ") + received_by_; }

bool Via::seen_in(const std::vector<HeaderField>& fields) const {
  for (const auto& f : fields) {
    if (!iequals(f.name, "via")) continue;
    for (auto element : split_list(f.value)) {
      // element = received-protocol RWS received-by [ RWS comment ]
      auto sp = element.find_first_of(" \t");
      if (sp == std::string_view::npos) continue;
      auto rest = element.substr(sp);
      while (!rest.empty() && (rest.front() == ' ' || rest.front() == '\t')) rest.remove_prefix(1);
      auto by = rest.substr(0, rest.find_first_of(" \t"));
      if (iequals(by, received_by_)) return true;
    }
  }
  return false;
}

}  // namespace ferry::http
