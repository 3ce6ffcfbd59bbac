#!/bin/sh
# Runs every file_cache benchmark once at tiny sizes: they must still work.
set -eu
UCACHE_BENCH_SCALE=tiny "$1" --benchmark_min_time=0.01 >"$TEST_TMPDIR/out.txt" 2>&1 || {
  cat "$TEST_TMPDIR/out.txt"
  exit 1
}
cat "$TEST_TMPDIR/out.txt"
for name in BM_Put BM_Get BM_GetView BM_Open BM_Mixed BM_Compact; do
  grep -q "^$name" "$TEST_TMPDIR/out.txt" || { echo "missing $name"; exit 1; }
done
