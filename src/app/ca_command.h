#pragma once
#include <string>
#include <vector>

#include "config/config.h"
#include "routing/route_table.h"

namespace ferry {

// The actions of `ferry ca`: init, show, export, install-hint.
const std::vector<std::string>& ca_actions();

// `ferry ca ACTION`: make or keep the interception CA (init), describe it
// (show), print its certificate (export: the PEM on stdout, nothing else) or
// how to make clients trust it (install-hint). The directory is
// config.interception.ca_dir, else default_ca_dir(getenv). A missing or
// broken CA is exit 2 with a message that names the file and the fix.
int run_ca(const Config& config, const std::string& action, const GetEnv& getenv);

}  // namespace ferry
