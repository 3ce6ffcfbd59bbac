#!/bin/sh
# Runs the hit-ratio simulator at tiny sizes: it must run, print its table
# and its target checks, and its two exactness checks (our LRU against the
# reference LRU, the policy driver against MemoryCache) must pass. The
# hit-ratio targets themselves are not asserted at this size.
set -eu
out="$TEST_TMPDIR/out.txt"
UCACHE_BENCH_SCALE=tiny "$1" >"$out" 2>&1 || {
  cat "$out"
  exit 1
}
cat "$out"
for pattern in '^trace ' '^zipf-0.99 ' '^zipf+loop ' '^recency ' \
  'PASS  src/mcache lru matches the reference LRU' \
  'PASS  policy driver matches a 1-shard MemoryCache'; do
  grep -q "$pattern" "$out" || { echo "missing: $pattern"; exit 1; }
done
