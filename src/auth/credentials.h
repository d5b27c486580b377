#pragma once
// Upstream credentials (the password held as a Secret) and where they come from.
#include <string>
#include <string_view>

#include "base/expected.h"
#include "base/secret.h"

namespace ferry::auth {

// Secret and cleanse_string live in base/ (config holds secrets too).
using ::ferry::cleanse_string;
using ::ferry::Secret;

struct Credentials {
  std::string user;
  Secret password;
  bool present() const { return !user.empty(); }
};

// Reads the password from FILE: the first line, without its line ending.
// Refuses a file that group or others may read (SPEC §2), naming the file
// and its mode, never its content. `flag` names the option in errors (the
// admin token file is read the same way).
Expected<Secret> read_password_file(const std::string& path, std::string_view flag = "--password-file");

// Prompts on the controlling terminal with echo off. An error when there is
// no terminal (a daemon must use --password-file).
Expected<Secret> prompt_password(std::string_view prompt);

}  // namespace ferry::auth
