#!/usr/bin/env bash
# Runs //bench:memoize_compare at a tiny size and checks that every row has a
# number for ucache, joblib and diskcache.
set -euo pipefail
out="$("$1" --script "$2" --n 1000 --reps 1 --small-calls 1000 --dir "${TEST_TMPDIR}")"
echo "${out}"
for row in "miss: compute + store" "hit, same process" "hit, fresh process" "hit of f(int)"; do
  line="$(grep -F "| ${row}" <<<"${out}")" || { echo "FAIL: no row '${row}'"; exit 1; }
  # | label | ucache | joblib | diskcache | ratio | ratio |
  cells="$(awk -F'|' '{print $3, $4, $5}' <<<"${line}")"
  for cell in ${cells}; do
    [[ "${cell}" =~ ^[0-9.]+$ ]] || { echo "FAIL: row '${row}' has '${cell}'"; exit 1; }
  done
done
echo PASS
