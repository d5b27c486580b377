#include "base/secret.h"

#include <openssl/crypto.h>

namespace ferry {

void cleanse_string(std::string& s) {
  // The whole capacity: a moved-from short string keeps its bytes in the
  // inline buffer with size 0. OPENSSL_cleanse is not optimised away.
  OPENSSL_cleanse(s.data(), s.capacity());
  s.clear();
}

Secret::Secret(std::string value) : value_(std::move(value)) { cleanse_string(value); }

void Secret::wipe() { cleanse_string(value_); }

Secret& Secret::operator=(const Secret& o) {
  if (this != &o) {
    wipe();
    value_ = o.value_;
  }
  return *this;
}

Secret::Secret(Secret&& o) noexcept : value_(std::move(o.value_)) { o.wipe(); }

Secret& Secret::operator=(Secret&& o) noexcept {
  if (this != &o) {
    wipe();
    value_ = std::move(o.value_);
    o.wipe();
  }
  return *this;
}

}  // namespace ferry
