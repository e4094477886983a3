#!/usr/bin/env bash
# Installs the Debian packages tuntuntun needs to build, test and run its demo.
# Run by `make check`, `make demo`, `make bench` and CI only: a plain `make`
# or `make install` never installs anything (it names what is missing).
# libsystemd-dev is optional for a build (sd_notify readiness); the tests
# build with it. groff-base and man-db render the man pages in `make check`.
# Idempotent: asks apt only for what is missing, so `make demo` and `make check`
# can call it every time at no cost once everything is there.
set -euo pipefail

PKGS=(
  build-essential pkg-config clang
  libev-dev libyaml-dev libsodium-dev libjansson-dev libcmocka-dev libmnl-dev libcap-dev
  libsystemd-dev groff-base man-db libmicrohttpd-dev
  iproute2 iputils-ping iperf3 nftables tcpdump python3 procps coreutils curl
)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "deps: missing packages: ${missing[*]}; run as root or install them" >&2
  exit 1
fi
echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
