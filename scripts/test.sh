#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The whole test suite, exactly as CI runs it (.ci/run calls this script):
#   1. install every Debian package the project needs (idempotent);
#   2. build with warnings as errors, run the C unit tests (cmocka);
#   3. check formatting and banned functions;
#   4. build with ASan+UBSan and run the unit tests again;
#   5. run the pytest integration tests against the sanitized binary;
#   6. run every libFuzzer target for FUZZ_SECONDS (default 20) each.
# Every step runs even when an earlier one failed (except a failed build);
# the last line is a plain "N passed, N failed" count of test cases.
set -uo pipefail
cd "$(dirname "$0")/.."

FUZZ_SECONDS=${FUZZ_SECONDS:-20}
PY=/usr/bin/python3 # Debian's python3, which has python3-pytest
results=$(mktemp -d)
trap 'rm -rf "$results"' EXIT
failed_steps=()

step() { printf '\n==> %s\n' "$*"; }

bash scripts/install-deps.sh || exit 1

step "build (warnings are errors)"
bash scripts/build.sh build || exit 1

# Unit tests emit TAP; count subtests from meson's JSON test log.
count_tap() {
  "$PY" - "$1" <<'PYEOF'
import json, re, sys
ok = bad = 0
for line in open(sys.argv[1]):
    rec = json.loads(line)
    out = rec.get("stdout", "")
    ok += len(re.findall(r"^ok \d+", out, re.M))
    bad += len(re.findall(r"^not ok \d+", out, re.M))
    if rec.get("result") not in ("OK", "SKIP", "EXPECTEDFAIL") and not re.search(r"^not ok", out, re.M):
        bad += 1
print(ok, bad)
PYEOF
}

run_unit() { # build_dir label
  step "unit tests ($2)"
  if ! meson test -C "$1" --no-suite fuzz --print-errorlogs; then failed_steps+=("unit tests ($2)"); fi
  count_tap "$1/meson-logs/testlog.json" >"$results/unit-$2"
}

run_unit build release

step "style"
bash scripts/check-style.sh || failed_steps+=("style")

step "build with ASan+UBSan"
if bash scripts/build.sh build-asan -Db_sanitize=address,undefined -Db_lundef=false \
     -Dc_args=-fno-sanitize-recover=all; then
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
  run_unit build-asan asan
  step "integration tests (pytest, sanitized binary)"
  if CLEANROOM_BIN="$PWD/build-asan/src/cli/cleanroom" CLEANROOM_DRIVER="$PWD/build-asan/tests/driver/sandbox-driver" \
     CLEANROOM_TOOLS_DIR="$PWD/build-asan/tests/tools" "$PY" -m pytest -q -p no:cacheprovider \
       --junitxml="$results/pytest.xml" tests/integration; then :; else failed_steps+=("integration tests"); fi
  step "egress conformance suite (spec §14, backend netns, sanitized binary)"
  if CLEANROOM_BIN="$PWD/build-asan/src/cli/cleanroom" "$PY" -m pytest -q -p no:cacheprovider \
       --junitxml="$results/pytest-conformance.xml" tests/conformance --backend netns; then :; else
    failed_steps+=("conformance suite")
  fi
else
  failed_steps+=("asan build")
fi

step "fuzzing (${FUZZ_SECONDS}s per target)"
if bash scripts/fuzz.sh "$FUZZ_SECONDS" | tee "$results/fuzz.log"; then :; else failed_steps+=("fuzzing"); fi

# Totals over unit subtests, pytest cases and fuzz targets.
totals=$("$PY" - "$results" <<'PYEOF'
import glob, os, re, sys
import xml.etree.ElementTree as ET
d = sys.argv[1]; ok = bad = skipped = 0
for f in glob.glob(os.path.join(d, "unit-*")):
    a, b = map(int, open(f).read().split()); ok += a; bad += b
for x in glob.glob(os.path.join(d, "pytest*.xml")):
    for s in ET.parse(x).getroot().iter("testsuite"):
        t, fl, er, sk = (int(s.get(k, 0)) for k in ("tests", "failures", "errors", "skipped"))
        ok += t - fl - er - sk; bad += fl + er; skipped += sk
fz = os.path.join(d, "fuzz.log")
if os.path.exists(fz):
    for line in open(fz):
        m = re.match(r"fuzz: (\S+) .*\b(ok|FAILED)\b", line)
        if m: ok, bad = (ok + 1, bad) if m.group(2) == "ok" else (ok, bad + 1)
print(ok, bad, skipped)
PYEOF
)
read -r passed failed skipped <<<"$totals"

echo
if [ "${#failed_steps[@]}" -gt 0 ]; then
  printf 'failed steps: %s\n' "${failed_steps[*]}"
  [ "$failed" -gt 0 ] || failed=${#failed_steps[@]}
fi
echo "$passed passed, $failed failed, $skipped skipped"
[ "${#failed_steps[@]}" -eq 0 ]
