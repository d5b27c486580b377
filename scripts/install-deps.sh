#!/usr/bin/env bash
# Installs the Debian packages ferry needs to build, test and benchmark.
# Idempotent: packages already present are skipped, and apt is not touched
# at all when nothing is missing.
set -euo pipefail

BUILD_PKGS=(g++ cmake ninja-build pkg-config make
  libboost1.81-dev libssl-dev libspdlog-dev libfmt-dev libcli11-dev libtomlplusplus-dev
  libgtest-dev libgmock-dev libbenchmark-dev libkrb5-dev)
# squid (+ apache2-utils for htpasswd), microsocks and dante-server are the
# real upstream proxies the integration tests chain through (upstreams.py).
# python3-requests, python3-httpx, nodejs, git and fcgiwrap (git http-backend
# behind nginx) are the real clients and origins of the interception tests
# (origins.py).
TEST_PKGS=(curl nginx-light python3 openssl ca-certificates clang libclang-rt-14-dev
  squid apache2-utils microsocks dante-server iproute2 util-linux
  krb5-kdc krb5-admin-server krb5-user gss-ntlmssp apache2 libapache2-mod-auth-gssapi python3-gssapi
  python3-requests python3-httpx nodejs git fcgiwrap)
# awscli and python3-botocore: the AWS credentials endpoint's tests (a real
# `aws configure export-credentials`; an STS stand-in checking SigV4 with botocore's signer).
TEST_PKGS+=(awscli python3-botocore)
BENCH_PKGS=(wrk tinyproxy cntlm mitmproxy)  # bench also installs TEST_PKGS (squid, nginx)
LINT_PKGS=(clang-format clang-tidy)  # make lint; clang-tidy also needs BUILD_PKGS' headers

want=("${BUILD_PKGS[@]}")
case "${1:-build}" in
  build) ;;
  test) want+=("${TEST_PKGS[@]}") ;;
  bench) want+=("${TEST_PKGS[@]}" "${BENCH_PKGS[@]}") ;;
  lint) want+=("${LINT_PKGS[@]}") ;;
  *) echo "usage: $0 [build|test|bench|lint]" >&2; exit 2 ;;
esac

missing=()
for p in "${want[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "installing: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian starts daemons on install; tests and benchmarks run their own copies.
# Entries are package-prefix:service (dante-server's service is danted).
for entry in nginx:nginx squid:squid tinyproxy:tinyproxy dante-server:danted cntlm:cntlm apache2:apache2 \
             krb5-kdc:krb5-kdc krb5-admin-server:krb5-admin-server fcgiwrap:fcgiwrap; do
  pkg=${entry%%:*} svc=${entry#*:}
  if [[ " ${missing[*]} " == *" $pkg"* ]] && command -v service >/dev/null; then
    $SUDO service "$svc" stop >/dev/null 2>&1 || true
  fi
done
exit 0
