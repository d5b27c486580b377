#pragma once
#include <string>
#include <string_view>

namespace ferry {

// `s` as one POSIX shell word: unchanged when it holds only characters no
// shell treats specially, else in single quotes ('\'' for a quote inside).
std::string shell_quote(std::string_view s);

}  // namespace ferry
