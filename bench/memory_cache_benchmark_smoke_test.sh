#!/bin/sh
# Runs every memory_cache benchmark once at tiny sizes: they must still work.
set -eu
out="$TEST_TMPDIR/out.txt"
UCACHE_BENCH_SCALE=tiny "$1" --benchmark_min_time=0.01 >"$out" 2>&1 || {
  cat "$out"
  exit 1
}
cat "$out"
for policy in Lru Lfu Fifo TinyLfu; do
  for keys in prehashed hashing; do
    for threads in 1 2; do
      name="BM_Hit/$policy/$keys/real_time/threads:$threads"
      grep -q "^$name " "$out" || { echo "missing $name"; exit 1; }
    done
  done
done
grep -q "^BM_BareMap/real_time " "$out" || { echo "missing BM_BareMap"; exit 1; }
# The floor's table must find every key, or its time measures misses.
grep -q "^BM_FlatTable/real_time .*misses=0$" "$out" || {
  echo "BM_FlatTable missing or missed a key"
  exit 1
}
