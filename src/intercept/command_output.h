#pragma once
// Runs `/bin/sh -c COMMAND` and returns what it wrote to stdout, for
// ${exec:...} secrets. stdin and stderr are /dev/null (stderr may echo the
// secret or a token request; ferry never shows it), no other descriptor of
// ferry is inherited, and the command runs in its own process group, which
// is killed when the timeout passes. Blocks: never call it on an event loop.
#include <cstddef>
#include <string>

#include "base/duration.h"
#include "base/expected.h"

namespace ferry {

// Errors name the command and the exit status or signal, never the output.
// The returned string holds a secret: the caller wipes it (Secret).
Expected<std::string> run_command_output(const std::string& command, Millis timeout, size_t max_bytes);

}  // namespace ferry
