#include "app/ca_command.h"

#include <sys/stat.h>

#include <filesystem>
#include <iostream>

#include "base/shell_quote.h"
#include "intercept/certificate_authority.h"

namespace ferry {

namespace {

constexpr int kCaError = 2;

int ca_failure(const std::string& action, const std::string& message) {
  std::cerr << "ferry ca " << action << ": " << message << "\n";
  return kCaError;
}

void print_description(const CertificateAuthority& ca, const std::string& dir) {
  std::cout << "directory:   " << dir << "\n"
            << "subject:     " << ca.subject() << "\n"
            << "sha256:      " << ca.sha256_fingerprint() << "\n"
            << "not before:  " << ca.not_before() << "\n"
            << "not after:   " << ca.not_after() << "\n";
  if (auto problem = ca.validity_problem(SystemClock::now())) std::cout << "warning:     " << *problem << "\n";
}

int init(const std::string& dir) {
  bool created = false;
  auto ca = CertificateAuthority::init(dir, created);
  if (!ca) return ca_failure("init", ca.error());
  // Refreshed on every init: the system bundle changes with updates.
  auto bundle = write_trust_bundle(*ca, kSystemTrustBundle);
  if (!bundle) return ca_failure("init", bundle.error());
  std::cout << (created ? "created a new interception CA in " : "kept the existing interception CA in ") << dir
            << (created ? "\n" : " (ferry never replaces a CA)\n");
  print_description(*ca, dir);
  if (*bundle) std::cout << "bundle.pem:  " << ca_bundle_path(dir) << " (" << kSystemTrustBundle << " + this CA)\n";
  else
    std::cout << "bundle.pem:  " << ca_bundle_path(dir) << " (this CA only: there is no " << kSystemTrustBundle
              << ")\n";
  std::cout << "Run 'ferry ca install-hint' to see how to make clients trust it.\n";
  return 0;
}

void print_install_hint(const std::string& dir) {
  std::cout << "# Trust ferry's interception CA system-wide (Debian, Ubuntu; as root):\n"
            << "cp " << shell_quote(ca_cert_path(dir)) << " /usr/local/share/ca-certificates/ferry.crt"
            << " && update-ca-certificates\n"
            << "# Or per shell. bundle.pem is the system trust bundle plus ferry's CA: the first four\n"
            << "# variables replace a client's trust, and hosts ferry does not intercept keep showing\n"
            << "# their own certificates. NODE_EXTRA_CA_CERTS adds to Node's trust, so it names ca.pem.\n";
  for (const auto& [name, value] : ca_environment(dir))
    std::cout << "export " << name << "=" << shell_quote(value) << "\n";
  struct stat st {};
  if (::stat(ca_bundle_path(dir).c_str(), &st) != 0)
    std::cerr << "ferry ca install-hint: " << ca_bundle_path(dir) << " is missing; 'ferry ca init --ca-dir "
              << shell_quote(dir) << "' writes it\n";
}

}  // namespace

const std::vector<std::string>& ca_actions() {
  static const std::vector<std::string> actions = {"init", "show", "export", "install-hint"};
  return actions;
}

int run_ca(const Config& config, const std::string& action, const GetEnv& getenv) {
  std::string dir = config.interception.ca_dir;
  if (dir.empty()) {
    auto fallback = default_ca_dir(getenv);
    if (!fallback) return ca_failure(action, fallback.error());
    dir = *fallback;
  }
  // Printed paths go into trust stores and environment variables, which
  // outlive the current directory.
  dir = std::filesystem::absolute(dir).lexically_normal().string();
  if (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  if (action == "init") return init(dir);

  auto ca = CertificateAuthority::load(dir);
  if (!ca) return ca_failure(action, ca.error());
  if (action == "export") {
    std::cout << ca->certificate_pem();
  } else if (action == "show") {
    print_description(*ca, dir);
  } else {
    print_install_hint(dir);
  }
  return 0;
}

}  // namespace ferry
