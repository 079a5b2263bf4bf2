#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The README's first command: install what is needed, build, and run the main
# job on the example repository (examples/npm-project):
#   1. validate its policy and decide one allowed and one denied destination;
#   2. run a command with `cleanroom exec` under the example policy: the server
#      refuses it before anything starts, because its secret binding needs the
#      secret proxy (not built yet; its npm registry section is served by the
#      gateway's registry front);
#   3. run a command in a real sandbox under the example's network rules
#      (examples/egress): github.com is allowed through the sandbox's gateway,
#      example.org is denied by name and by address, and the audit trail shows
#      each decision.
# `cleanroom exec` starts a private server when none answers (it exits when
# idle), exactly as it does for a user. Needs root (the namespace backend).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
bash scripts/build.sh build >/dev/null
cleanroom="$PWD/build/src/cli/cleanroom"
repo="$PWD"

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

# 2. The example's full policy also enables the npm registry (with lockfile
# enforcement: served by the gateway's npm front) and a secret: the secret
# proxy is not built yet, so the server refuses the launch
# (backend_capability_mismatch, secret_isolation) before any workload starts,
# rather than run it with less protection.
run "$cleanroom" exec -- node test.js
refused=$?

# 3. The example's network rules alone (examples/egress/cleanroom.yaml): the
# sandbox's only way out is its gateway, which resolves and connects to
# github.com (allowed) and refuses example.org (denied), by name and by
# address; every decision goes to the audit trail.
cp "$repo/examples/egress/cleanroom.yaml" .cleanroom-egress.yaml
script='
  echo "inside: $(hostname), $(id -un), workspace: $(ls | tr "\n" " ")"
  if code=$(curl -sS -m 10 -o /dev/null -w "%{http_code}" https://github.com/ 2>/tmp/err); then
    echo "github.com: allowed, HTTP $code"
  else
    echo "github.com: allowed by the policy; the gateway could not reach it from this host: $(tail -c 100 /tmp/err)"
  fi
  # enforcement does not depend on the proxy variables: --noproxy ignores them
  if curl --noproxy "*" -fsS -m 5 -o /dev/null http://example.org/ 2>/dev/null; then
    echo "example.org: reachable (unexpected)"; exit 1
  fi
  echo "example.org: denied (the sandbox resolver does not know the name)"
  forced=$(curl --noproxy "*" -s -m 5 -o /dev/null -w "%{http_code}" --resolve example.org:80:192.0.2.10 http://example.org/)
  echo "example.org by address: HTTP $forced from the gateway (403 = denied by policy)"
  proxied=$(curl -s -m 5 -o /dev/null -w "%{http_code}" http://example.org/)
  echo "example.org through HTTP_PROXY: HTTP $proxied (403 = denied by policy)"
  [ "$forced" = 403 ] && [ "$proxied" = 403 ]'
printf '\n$ %s exec -c .cleanroom-egress.yaml --json -- sh -c %s\n' "$cleanroom" "'...'"
record=$("$cleanroom" exec -c .cleanroom-egress.yaml --json -- sh -c "$script" | tee /dev/stderr | tail -n 1)
sandboxed=$?
sandbox=$(printf '%s' "$record" | python3 -c 'import json, sys; print(json.load(sys.stdin).get("sandbox_id") or "")' 2>/dev/null)
if [ -n "$sandbox" ]; then
  run "$cleanroom" audit ls --sandbox "$sandbox" --kind egress.dns_query
  run "$cleanroom" audit ls --sandbox "$sandbox" --kind egress.decision
fi
set -e

printf '\npolicy: github.com exit %d (0 = allowed), example.org exit %d (1 = denied)\n' "$allowed" "$denied"
printf 'exec under the example policy: exit %d (1 = refused before launch)\n' "$refused"
printf 'exec under its network rules: exit %d (0 = ran; github.com allowed, example.org denied)\n' "$sandboxed"
[ "$allowed" -eq 0 ] && [ "$denied" -eq 1 ] && [ "$refused" -eq 1 ] && [ "$sandboxed" -eq 0 ]
