#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Benchmark: sandbox create + `exec true` + terminate, and exec into an
# existing sandbox, side by side with bubblewrap and `unshare -n` in one run.
# Whole-process timings by hyperfine (median of RUNS runs after warm-up);
# results as a Markdown table on stdout and JSON in bench/results/.
#
# Usage (as root): bench/sandbox.sh [RUNS]   (default 30)
set -euo pipefail
cd "$(dirname "$0")/.."

runs=${1:-30}
. bench/common.sh
bench_setup bubblewrap hyperfine

driver="$PWD/build/tests/driver/sandbox-driver"
state=$(mktemp -d /var/tmp/cleanroom-bench.XXXXXX)
chmod 0711 "$state"
trap 'rm -rf "$state"' EXIT
mkdir -p bench/results
out="bench/results/sandbox-$(date -u +%Y%m%dT%H%M%SZ).json"

eleven=()
for _ in $(seq 11); do eleven+=(-e true); done

hyperfine --style basic --runs "$runs" --warmup 3 --export-json "$out" \
  -n "cleanroom create+exec+terminate" "$driver run --state $state -e true" \
  -n "cleanroom create+11 execs+terminate" "$driver run --state $state ${eleven[*]}" \
  -n "bwrap --unshare-all true" "bwrap --unshare-all --ro-bind / / --dev /dev --proc /proc true" \
  -n "unshare -n true" "unshare -n true" >&2

/usr/bin/python3 - "$out" <<'PY'
import json, sys, platform, os
res = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
med = {k: v["median"] * 1000 for k, v in res.items()}
one = med["cleanroom create+exec+terminate"]
per_exec = (med["cleanroom create+11 execs+terminate"] - one) / 10
bwrap = med["bwrap --unshare-all true"]
print(f"machine: {platform.node()} {platform.release()}, {os.cpu_count()} cores")
print()
print("| what | median (ms) | ratio to bwrap |")
print("|---|---:|---:|")
print(f"| cleanroom: create + exec `true` + terminate | {one:.1f} | {one / bwrap:.2f}x |")
print(f"| cleanroom: one more exec in an existing sandbox | {per_exec:.1f} | {per_exec / bwrap:.2f}x |")
print(f"| bwrap --unshare-all --ro-bind / / --dev /dev --proc /proc true | {bwrap:.1f} | 1.00x |")
print(f"| unshare -n true | {med['unshare -n true']:.1f} | {med['unshare -n true'] / bwrap:.2f}x |")
PY
