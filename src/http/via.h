#pragma once
// ferry's Via identity: "ferry-<random pseudonym>", fixed for the process, so
// a request that has already passed through this ferry is recognised as a loop
// without revealing the host name.
#include <string>
#include <string_view>
#include <vector>

#include "http/message_head.h"

namespace ferry::http {

class Via {
 public:
  explicit Via(std::string pseudonym);  // the part after "ferry-"
  static Via random();

  const std::string& received_by() const { return received_by_; }
  // "1.1 ferry-xxxx" for a message received as HTTP/1.1.
  std::string value(int version_minor) const;
  // True if any Via field line names this ferry as a recipient.
  bool seen_in(const std::vector<HeaderField>& fields) const;

 private:
  std::string received_by_;
};

}  // namespace ferry::http
