#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds cleanroom into build/ (warnings are errors). Idempotent: an existing
# build directory is reused and only what changed is rebuilt.
# Usage: scripts/build.sh [BUILD_DIR [MESON_SETUP_OPTIONS...]]
set -euo pipefail
cd "$(dirname "$0")/.."

dir=${1:-build}
shift || true
if [ ! -f "$dir/build.ninja" ]; then
  meson setup "$dir" -Dwerror=true "$@"
fi
meson compile -C "$dir"
