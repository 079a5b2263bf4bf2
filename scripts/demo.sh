#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The README's first command: install what is needed, build, and run the main
# job on the example repository (examples/npm-project): validate its policy,
# compile it, and decide one allowed and one denied destination.
#
# Until the sandbox backend and control plane land (issues 4 and 5), the main
# job stops at the policy: no command is run inside a sandbox yet.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
bash scripts/build.sh build >/dev/null
cleanroom="$PWD/build/src/cli/cleanroom"

# The example is copied into a fresh git repository, as a user's checkout.
demo=$(mktemp -d "${TMPDIR:-/tmp}/cleanroom-demo.XXXXXX")
trap 'rm -rf "$demo"' EXIT
cp -r examples/npm-project/. "$demo/"
git -C "$demo" init -q
git -C "$demo" add -A
git -C "$demo" -c user.name=cleanroom -c user.email=demo@cleanroom.invalid commit -qm "example project"
cd "$demo"

run() {
  printf '\n$ %s\n' "$*"
  "$@"
}

run "$cleanroom" policy validate
run "$cleanroom" policy compile
set +e
run "$cleanroom" policy explain github.com
allowed=$?
run "$cleanroom" policy explain example.org
denied=$?
run "$cleanroom" policy explain http://169.254.169.254/latest/meta-data/
metadata=$?
set -e

printf '\nallowed destination exit %d (0 = allowed), denied destination exit %d and %d (1 = denied)\n' \
  "$allowed" "$denied" "$metadata"
[ "$allowed" -eq 0 ] && [ "$denied" -eq 1 ] && [ "$metadata" -eq 1 ]
