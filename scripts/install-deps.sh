#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs every Debian 12 package cleanroom needs to build, run and test.
# Idempotent: packages already present are left alone, and apt-get update runs
# only when something is missing.
set -euo pipefail

packages=(
  # build
  build-essential meson ninja-build pkg-config git ca-certificates
  # libraries (DESIGN.md §11)
  libyaml-dev libjansson-dev libidn2-dev libssl-dev libseccomp-dev libcap-dev libarchive-dev
  protobuf-c-compiler libprotobuf-c-dev libprotobuf-dev libsqlite3-dev libevent-dev libcurl4-openssl-dev
  libnl-3-dev libnl-route-3-dev libnftables-dev libnetfilter-conntrack-dev libxml2-dev
  # tests, sanitizers, fuzzing, style
  libcmocka-dev python3 python3-pytest clang libclang-rt-14-dev clang-format
  # tools the tests run (inside sandboxes, and curl as an API client)
  keyutils util-linux procps curl
  # egress conformance fixtures: netns plumbing, rule inspection, fixture DNS
  iproute2 nftables python3-dnslib openssl
  # registry and git fronts with the real clients (pip inside sandboxes; git http-backend fixture)
  python3-pip python3-venv
)
# node and npm run the TypeScript client test (tests/clients/ts). Debian's
# packages only when none is on PATH: a node from elsewhere (nodesource) ships
# its own npm, which Debian's npm package would conflict with.
command -v node >/dev/null 2>&1 || packages+=(nodejs)
command -v npm >/dev/null 2>&1 || packages+=(npm)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages: ${missing[*]}" >&2
  echo "install-deps: run as root (or install them with sudo apt-get install)" >&2
  exit 1
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
