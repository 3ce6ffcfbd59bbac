#!/bin/sh
# Runs every memoize benchmark briefly: they must still work.
set -eu
"$1" --benchmark_min_time=0.01 >"$TEST_TMPDIR/out.txt" 2>&1 || {
  cat "$TEST_TMPDIR/out.txt"
  exit 1
}
cat "$TEST_TMPDIR/out.txt"
for name in BM_SmallHit/memory BM_SmallHit/file BM_SmallHit/disabled BM_ArrayHit BM_ArrayView; do
  grep -q "^$name" "$TEST_TMPDIR/out.txt" || { echo "missing $name"; exit 1; }
done
