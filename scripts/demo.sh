#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The README's first command: install what is needed, build, and run the main
# job on the example repository (examples/npm-project):
#   1. validate its policy and decide one allowed and one denied destination;
#   2. run a command with `cleanroom exec` under the example policy: the server
#      refuses it before anything starts, because this backend cannot enforce
#      per-host allow rules yet (egress enforcement is issue 6);
#   3. run a command in a real sandbox under a deny-by-default policy: the
#      workspace is there, the network is not.
# `cleanroom exec` starts a private server when none answers (it exits when
# idle), exactly as it does for a user. Needs root (the namespace backend).
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
set +e
run "$cleanroom" policy explain github.com
allowed=$?
run "$cleanroom" policy explain example.org
denied=$?

# 2. The example policy allows github.com: enforcing that needs the egress
# gateway, which this backend does not have yet, so the launch is refused
# (backend_capability_mismatch) before any workload starts.
run "$cleanroom" exec -- node test.js
refused=$?

# 3. Deny by default: the command runs in a sandbox with the repository's
# files and no network at all.
cat > .cleanroom-deny-all.yaml <<'YAML'
version: 1
sandbox:
  network:
    default: deny
YAML
run "$cleanroom" exec -c .cleanroom-deny-all.yaml -- sh -c '
  echo "inside: $(hostname), $(id -un), workspace: $(ls | tr "\n" " ")"
  if curl -sS -m 5 -o /dev/null https://example.org 2>/dev/null; then
    echo "example.org: reachable (unexpected)"; exit 1
  else
    echo "example.org: denied (no route out of the sandbox)"
  fi'
sandboxed=$?
set -e

printf '\npolicy: github.com exit %d (0 = allowed), example.org exit %d (1 = denied)\n' "$allowed" "$denied"
printf 'exec under the example policy: exit %d (1 = refused before launch)\n' "$refused"
printf 'exec in a deny-by-default sandbox: exit %d (0 = ran, destination denied)\n' "$sandboxed"
[ "$allowed" -eq 0 ] && [ "$denied" -eq 1 ] && [ "$refused" -eq 1 ] && [ "$sandboxed" -eq 0 ]
