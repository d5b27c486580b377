#pragma once
// Secret bytes (a password, a Proxy-Authorization value). A Secret wipes
// its bytes when destroyed or reassigned, so a password does not linger in
// freed heap memory (and core dumps) longer than the process needs it.
#include <string>
#include <string_view>

namespace ferry {

class Secret {
 public:
  Secret() = default;
  explicit Secret(std::string value);
  Secret(const Secret& o) = default;
  Secret& operator=(const Secret& o);
  Secret(Secret&& o) noexcept;
  Secret& operator=(Secret&& o) noexcept;
  ~Secret() { wipe(); }

  std::string_view view() const { return value_; }
  bool empty() const { return value_.empty(); }
  size_t size() const { return value_.size(); }
  void wipe();
  // For config equality only (not constant-time).
  bool operator==(const Secret& o) const { return value_ == o.value_; }

 private:
  std::string value_;
};

// Overwrites all of a string's buffer, then empties it.
void cleanse_string(std::string& s);

}  // namespace ferry
