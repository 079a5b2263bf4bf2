#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Style gate (CONVENTIONS.md): every C file matches .clang-format, and no
# banned function (sprintf, strcpy, strcat, strtok, atoi, gets, alloca) is
# called anywhere in the sources or tests.
set -euo pipefail
cd "$(dirname "$0")/.."

mapfile -t files < <(git ls-files -co --exclude-standard -- 'src/*.c' 'src/*.h' 'tests/*.c' 'tests/*.h')
status=0

unformatted=()
for f in "${files[@]}"; do
  [ -f "$f" ] || continue
  clang-format --dry-run -Werror "$f" >/dev/null 2>&1 || unformatted+=("$f")
done
if [ "${#unformatted[@]}" -gt 0 ]; then
  echo "check-style: not formatted with .clang-format (run: clang-format -i FILE):"
  printf '  %s\n' "${unformatted[@]}"
  status=1
fi

if banned=$(grep -HnE '\b(sprintf|vsprintf|strcpy|strcat|strtok|atoi|gets|alloca)[[:space:]]*\(' "${files[@]}" /dev/null); then
  echo "check-style: banned functions (CONVENTIONS.md):"
  echo "$banned"
  status=1
fi

if [ "$status" -eq 0 ]; then
  echo "check-style: ${#files[@]} files formatted, no banned functions"
fi
exit "$status"
