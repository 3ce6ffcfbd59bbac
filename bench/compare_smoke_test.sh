#!/bin/sh
# Runs every workload of //bench:compare once at tiny sizes against every
# store: each workload's table must have a row for each store, workload 1
# the machine's own dependent-load floor and the rows of the bare layouts
# (the one-load table the limit of a hash store's gets), workload 4 its
# two-process ceiling, and workload 6 the memoization table. Timings are
# printed, never checked.
set -eu
# $2: TSan suppressions for the peers' uninstrumented libraries (read only
# by a --config=tsan build).
export TSAN_OPTIONS="suppressions=$(cd "$(dirname "$2")" && pwd)/$(basename "$2") ${TSAN_OPTIONS:-}"
out="$TEST_TMPDIR/out.txt"
"$1" --dir="$TEST_TMPDIR/stores" --repeats=1 \
  --small-keys=500 --small-gets=2000 \
  --large-keys=4 --large-gets=8 --large-value-bytes=65536 \
  --open-keys=1000 --mixed-keys=500 --mixed-ops=500 \
  --compact-keys=500 --compact-value-bytes=1024 \
  --memoize-compare="$3" --memoize-script="$4" --memoize-n=1000 >"$out" 2>&1 || {
  cat "$out"
  exit 1
}
cat "$out"
# "<workload> <store>" for each table row, e.g. "3 LMDB".
rows="$(awk '/^### Workload /{w=$3; sub(":", "", w)} /^\| /{print w, $2}' "$out")"
for workload in 1 2 3 4 5; do
  for store in fcache LMDB RocksDB LevelDB SQLite files; do
    echo "$rows" | grep -qx "$workload $store" || {
      echo "workload $workload printed no row for $store"
      exit 1
    }
  done
done
grep -q "^This machine's own floor in the same run: one dependent load .* took [0-9.]* ns" "$out" || {
  echo "workload 1 printed no floor of the machine"
  exit 1
}
for table in "one-load table (limit)" "one-load table, verified" \
  "two-load table" "two-load table, verified"; do
  grep -qF "| $table | - | " "$out" || {
    echo "workload 1 printed no row for the $table"
    exit 1
  }
done
grep -q '^| one-load table (limit) | - | [0-9.]*[kM]* | - | [0-9.]*x | [0-9.]*x | 1.00x | in memory |$' "$out" || {
  echo "workload 1's one-load table is not the limit its column divides by"
  exit 1
}
grep -q "^This machine's own ceiling in the same run: .* ran [0-9.]*x " "$out" || {
  echo "workload 4 printed no ceiling of the machine"
  exit 1
}
grep -q '^### Workload 6: memoization' "$out" &&
  grep -q '^| hit, same process (a copy) | [0-9.]* | [0-9.]* | [0-9.]* |' "$out" || {
  echo "workload 6 printed no memoization table"
  exit 1
}
