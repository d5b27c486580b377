#pragma once
// The KDCs krb5.conf names for the default realm, for `ferry check` to
// probe (DNS SRV lookups are not followed: enterprise configs name them).
#include <string>
#include <vector>

#include "base/host_port.h"

namespace ferry::auth {

struct KdcList {
  std::string realm;           // empty when krb5.conf names no default realm
  std::vector<HostPort> kdcs;  // port 88 unless given
  std::string error;
};

KdcList configured_kdcs();

}  // namespace ferry::auth
