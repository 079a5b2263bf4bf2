#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Runs every libFuzzer target for a bounded time: the short fuzzing run of CI.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET]      (default 20)
#
# Configures (or reuses) the build dir build-fuzz with clang, -Dfuzz=true and
# ASan+UBSan without recovery, builds it, then fuzzes each target over a copy
# of its seed corpus in a temporary directory, so nothing is written into the
# tree. Reproducers of failures are kept in build-fuzz/crashes/<target>/.
# Prints one summary line per target on stdout ("fuzz: NAME runs=N cov=N
# ok|FAILED (kind, exit N)"; build output, progress and failure logs go to
# stderr) and exits non-zero when any target found a crash, leak, timeout,
# out-of-memory or sanitizer report. Idempotent; runs from any directory.
set -euo pipefail

seconds=${1:-20}
if ! [[ $seconds =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: $0 [SECONDS_PER_TARGET]   (a positive integer, default 20)" >&2
  exit 2
fi

cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD
build="build-fuzz"
setup_opts=(-Dfuzz=true "-Db_sanitize=address,undefined" -Db_lundef=false -Dc_args=-fno-sanitize-recover=all)

# Prints "ok" when $build is configured with clang and the options above,
# "reconfigure" when only options differ, "wipe" when the compiler does.
build_state() {
  meson introspect "$build" --buildoptions --targets 2>/dev/null | python3 -c '
import json, os, sys
d = json.load(sys.stdin)
opts = {o["name"]: o["value"] for o in d["buildoptions"]}
want = {"fuzz": True, "b_sanitize": "address,undefined", "b_lundef": False}
ccs = {os.path.basename(src["compiler"][0]) for t in d["targets"]
       for src in t.get("target_sources", []) if src.get("language") == "c"}
if not ccs or not all(cc.startswith("clang") for cc in ccs):
    print("wipe")
elif any(opts.get(k) != v for k, v in want.items()) or \
        "-fno-sanitize-recover=all" not in opts.get("c_args", []):
    print("reconfigure")
else:
    print("ok")
' 2>/dev/null || echo wipe
}

{
  if [[ ! -d $build ]]; then
    CC=clang meson setup "$build" "${setup_opts[@]}"
  else
    case $(build_state) in
    ok) ;;
    # meson 1.0's `setup --reconfigure` keeps old b_* values; configure sets them.
    reconfigure) meson configure "$build" "${setup_opts[@]}" ;;
    *) CC=clang meson setup --wipe "$build" "${setup_opts[@]}" ;;
    esac
  fi
  meson compile -C "$build"
} >&2

# The targets this configuration built (lockfile targets appear once written).
mapfile -t targets < <(meson introspect "$build" --targets | python3 -c '
import json, sys
for t in json.load(sys.stdin):
    if t["type"] == "executable" and t["name"].startswith("fuzz_"):
        print(t["name"] + "\t" + t["filename"][0])
' | sort)
if [[ ${#targets[@]} -eq 0 ]]; then
  echo "fuzz.sh: no fuzz targets were built" >&2
  exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/cleanroom-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT

export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export ASAN_OPTIONS=detect_leaks=1

# Names the first kind of failure a libFuzzer log reports.
failure_kind() {
  local log=$1
  if grep -q 'ERROR: LeakSanitizer' "$log"; then echo leak
  elif grep -q 'ERROR: libFuzzer: timeout' "$log"; then echo timeout
  elif grep -q 'ERROR: libFuzzer: out-of-memory' "$log"; then echo out-of-memory
  elif grep -q 'runtime error:' "$log"; then echo undefined-behaviour
  elif grep -q 'ERROR: AddressSanitizer' "$log"; then echo address-sanitizer
  elif grep -q 'ERROR: libFuzzer: deadly signal' "$log"; then echo crash
  else echo "exit-status"
  fi
}

failed=0
summary=()
for entry in "${targets[@]}"; do
  name=${entry%%$'\t'*}
  exe=${entry#*$'\t'}
  dir=$work/$name
  mkdir -p "$dir/corpus"
  if [[ -d tests/fuzz/corpus/$name ]]; then
    cp -R "tests/fuzz/corpus/$name/." "$dir/corpus/"
  fi
  args=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
    -artifact_prefix="$dir/")
  dict=tests/fuzz/${name#fuzz_}.dict
  [[ -f $dict ]] && args+=(-dict="$root/$dict")

  echo "fuzz.sh: $name for ${seconds}s" >&2
  rc=0
  (cd "$dir" && "$exe" "${args[@]}" corpus) >"$dir/log" 2>&1 || rc=$?

  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log" | tail -n 1)
  cov=$(sed -n 's/.* cov: \([0-9]*\) .*/\1/p' "$dir/log" | tail -n 1)
  if [[ $rc -eq 0 ]]; then
    result=ok
  else
    failed=1
    result="FAILED ($(failure_kind "$dir/log"), exit $rc)"
    keep=$build/crashes/$name
    rm -rf "$keep"
    mkdir -p "$keep"
    cp "$dir/log" "$keep/log"
    find "$dir" -maxdepth 1 -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' \
      -o -name 'oom-*' -o -name 'slow-unit-*' \) -exec cp {} "$keep/" \;
    echo "---- $name: last lines of the log (full log and reproducers in $keep) ----" >&2
    tail -n 60 "$dir/log" >&2
  fi
  # "fuzz: <target> ... ok|FAILED" is the line scripts/test.sh counts.
  summary+=("$(printf 'fuzz: %-24s runs=%-10s cov=%-6s %s' "$name" "${runs:-?}" "${cov:-?}" "$result")")
done

printf '%s\n' "${summary[@]}"
exit "$failed"
