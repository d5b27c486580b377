#pragma once
// What TLS interception needs for the process (SPEC §7), built at start when
// the config has inject rules: the CA, the leaf-certificate cache behind the
// CertificateSource seam, and the request log.
#include <memory>
#include <string>

#include "base/expected.h"
#include "config/config.h"
#include "intercept/leaf_certificates.h"
#include "intercept/request_log.h"
#include "log/event_log.h"
#include "routing/route_table.h"
#include "server/certificate_source.h"

namespace ferry {

struct InterceptionRuntime {
  std::unique_ptr<LeafCertificates> leaves;
  std::unique_ptr<CertificateSource> certificates;  // over `leaves`, logging each mint
  std::unique_ptr<RequestLog> request_log;          // null: --request-log not given
  std::string ca_dir;                               // where the CA was loaded from
};

// Null when no inject rule exists, globally or in a profile (nothing is
// ever intercepted), unless runs may bring rules (--admin) and a CA loads.
// An error (exit 2 at start) when rules exist and the CA cannot be loaded:
// it names the directory and how to make one (`ferry ca init`).
Expected<std::unique_ptr<InterceptionRuntime>, std::string> build_interception(const Config& config,
                                                                               const GetEnv& getenv, EventLog& log);

}  // namespace ferry
