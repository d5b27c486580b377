#pragma once
// Which scheme ferry answers an upstream's 407 with (SPEC §2 `--auth`). It
// belongs to the auth layer; the config only holds the user's choice.
#include <string_view>

namespace ferry {

enum class AuthMode { automatic, negotiate, ntlm, digest, basic, none };
// The flag's spelling: "auto", "negotiate", ...
std::string_view auth_mode_name(AuthMode m);

}  // namespace ferry
