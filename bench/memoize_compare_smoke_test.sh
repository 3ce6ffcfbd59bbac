#!/usr/bin/env bash
# Runs //bench:memoize_compare at a tiny size and checks that every row has a
# number for ucache, joblib and diskcache; that it empties what an earlier
# run left under --dir (which would turn its misses into hits); and that it
# refuses a --dir it cannot prepare.
set -euo pipefail
mkdir -p "${TEST_TMPDIR}/ucache" "${TEST_TMPDIR}/python"
touch "${TEST_TMPDIR}/ucache/left" "${TEST_TMPDIR}/python/left"
out="$("$1" --script "$2" --n 1000 --reps 1 --small-calls 1000 --dir "${TEST_TMPDIR}")"
for left in ucache/left python/left; do
  [[ ! -e "${TEST_TMPDIR}/${left}" ]] || { echo "FAIL: ${left} survived the run"; exit 1; }
done
if err="$("$1" --script "$2" --n 1000 --reps 1 --dir /proc/self/no-such-dir 2>&1)"; then
  echo "FAIL: an unusable --dir was accepted"; exit 1
fi
grep -q "cannot prepare /proc/self/no-such-dir" <<<"${err}" || { echo "FAIL: ${err}"; exit 1; }
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
