#include "auth/auth_mode.h"

namespace ferry {

std::string_view auth_mode_name(AuthMode m) {
  switch (m) {
    case AuthMode::automatic: return "auto";
    case AuthMode::negotiate: return "negotiate";
    case AuthMode::ntlm: return "ntlm";
    case AuthMode::digest: return "digest";
    case AuthMode::basic: return "basic";
    case AuthMode::none: return "none";
  }
  return "auto";
}

}  // namespace ferry
