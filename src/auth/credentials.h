#pragma once
// Upstream credentials and the secret bytes inside them. A Secret wipes its
// bytes when destroyed or reassigned, so a password does not linger in freed
// heap memory (and core dumps) longer than the process needs it.
#include <string>
#include <string_view>

#include "base/expected.h"

namespace ferry::auth {

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
  void wipe();

 private:
  std::string value_;
};

// Overwrites all of a string's buffer, then empties it.
void cleanse_string(std::string& s);

struct Credentials {
  std::string user;
  Secret password;
  bool present() const { return !user.empty(); }
};

// Reads the password from FILE: the first line, without its line ending.
// Refuses a file that group or others may read (SPEC §2), naming the file
// and its mode, never its content.
Expected<Secret> read_password_file(const std::string& path);

// Prompts on the controlling terminal with echo off. An error when there is
// no terminal (a daemon must use --password-file).
Expected<Secret> prompt_password(std::string_view prompt);

}  // namespace ferry::auth
