# SPDX-License-Identifier: Apache-2.0
# Sourced by the benchmarks (from the repository root): installs the peers
# and tools named as arguments when missing, then what cleanroom needs, and
# builds the release binaries into build/.
bench_setup() {
  export DEBIAN_FRONTEND=noninteractive
  local p missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    apt-get update -q && apt-get install -y -q --no-install-recommends "${missing[@]}"
  fi
  bash scripts/install-deps.sh >/dev/null
  bash scripts/build.sh build >/dev/null
}
