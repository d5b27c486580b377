#pragma once
// The client-token store for `serve` (SPEC §7 "Client tokens"): made when
// --client-tokens is given (its lines loaded) or when the admin listener can
// create runs (their tokens are added later). Null when neither: no request
// is then asked for a token.
#include <memory>
#include <string>

#include "auth/client_tokens.h"
#include "base/expected.h"
#include "config/config.h"
#include "log/event_log.h"

namespace ferry {

// Errors (exit 2 at start) name --client-tokens, the file and the line:
// an unreadable file, a bad line, a profile the configuration lacks.
Expected<std::unique_ptr<ClientTokenStore>> build_client_tokens(const Config& config, EventLog& log);

}  // namespace ferry
