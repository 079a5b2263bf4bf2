#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Benchmark: `cleanroom exec` end to end through a warm server, side by side
# with bubblewrap in one run, and the API's unary round trip.
#   - `cleanroom exec --no-workspace -- true`: policy compile, CreateSandbox,
#     CreateExecution, StreamExecution, TerminateSandbox, as a user runs it;
#   - the same with the repository copied in (a small git repository);
#   - `cleanroom exec --sandbox-id ID -- true`: into an existing sandbox;
#   - `bwrap --unshare-all ... true`: the reference;
#   - unary latency: GetServerStatus over one keep-alive connection, JSON and
#     binary codecs (bench/api_latency.py), and `curl` as a whole process.
# Whole-process timings by hyperfine (median of RUNS runs after warm-up).
#
# Usage (as root): bench/exec.sh [RUNS]   (default 30)
set -euo pipefail
cd "$(dirname "$0")/.."

runs=${1:-30}
. bench/common.sh
bench_setup bubblewrap hyperfine
cleanroom="$PWD/build/src/cli/cleanroom"

work=$(mktemp -d /var/tmp/cleanroom-bench.XXXXXX)
chmod 0711 "$work"
sock="$work/run/cleanroom.sock"
"$cleanroom" serve --socket "$sock" --state-dir "$work/state" 2>"$work/serve.log" &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.05; done

repo="$work/repo"
mkdir -p "$repo/src"
printf 'version: 1\nsandbox:\n  network:\n    default: deny\n' >"$repo/cleanroom.yaml"
for i in $(seq 50); do head -c 2000 /dev/urandom | base64 >"$repo/src/file$i.txt"; done
git -C "$repo" init -q && git -C "$repo" add -A &&
  git -C "$repo" -c user.name=bench -c user.email=bench@cleanroom.invalid commit -qm bench

cd "$repo"
host="unix://$sock"
sid=$("$cleanroom" exec --host "$host" --keep --no-workspace --json -- true |
  /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["sandbox_id"])')

mkdir -p "$OLDPWD/bench/results"
out="$OLDPWD/bench/results/exec-$(date -u +%Y%m%dT%H%M%SZ).json"
hyperfine --style basic --runs "$runs" --warmup 3 --export-json "$out" \
  -n "exec new sandbox" "$cleanroom exec --host $host --no-workspace -- true" \
  -n "exec new sandbox + workspace" "$cleanroom exec --host $host -- true" \
  -n "exec existing sandbox" "$cleanroom exec --host $host --sandbox-id $sid -- true" \
  -n "bwrap" "bwrap --unshare-all --ro-bind / / --dev /dev --proc /proc true" \
  -n "curl unary" "curl -s -o /dev/null --unix-socket $sock -H 'Content-Type: application/json' -d '{}' http://localhost/cleanroom.v1.AdminService/GetServerStatus" \
  >&2
cd "$OLDPWD"

/usr/bin/python3 bench/api_latency.py "$sock" 2000 >"$work/latency.json"
/usr/bin/python3 - "$out" "$work/latency.json" <<'PY'
import json, sys, platform, os
res = {r["command"]: r["median"] * 1000 for r in json.load(open(sys.argv[1]))["results"]}
lat = json.load(open(sys.argv[2]))
bwrap = res["bwrap"]
print(f"machine: {platform.node()} {platform.release()}, {os.cpu_count()} cores")
print()
print("| what | median (ms) | ratio to bwrap |")
print("|---|---:|---:|")
for name, label in (("exec new sandbox", "`cleanroom exec -- true`, new sandbox, no workspace"),
                    ("exec new sandbox + workspace", "the same, 50-file repository copied in"),
                    ("exec existing sandbox", "`cleanroom exec --sandbox-id ID -- true`"),
                    ("bwrap", "bwrap --unshare-all --ro-bind / / --dev /dev --proc /proc true"),
                    ("curl unary", "`curl` GetServerStatus (whole process)")):
    print(f"| {label} | {res[name]:.1f} | {res[name] / bwrap:.2f}x |")
print()
print("| unary GetServerStatus, one keep-alive connection | p50 (ms) | p99 (ms) |")
print("|---|---:|---:|")
for codec in ("json", "proto"):
    print(f"| {codec} codec | {lat[codec]['p50']:.3f} | {lat[codec]['p99']:.3f} |")
PY
