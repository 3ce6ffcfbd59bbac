#!/bin/sh
# Runs the remote benchmark at tiny sizes: every row must still be printed.
# Timings are not checked; the two machines' count is, loosely: each value
# is computed at least once and at most once per machine.
set -eu
"$1" --small >"$TEST_TMPDIR/out.txt" 2>&1 || {
  cat "$TEST_TMPDIR/out.txt"
  exit 1
}
cat "$TEST_TMPDIR/out.txt"
for row in "remote hit via memoize 100B" "bare hiredis GET 100B" "ratio 100B" \
  "remote hit via memoize 4096B" "ratio 4096B" \
  "miss 100B, write-behind remote tier" "miss 100B, no remote tier" \
  "ratio miss" "two machines x 20 calls: computed"; do
  grep -q "^$row " "$TEST_TMPDIR/out.txt" || { echo "missing row: $row"; exit 1; }
done
computed="$(sed -n 's/^two machines x 20 calls: computed *\([0-9]*\)\..*/\1/p' "$TEST_TMPDIR/out.txt")"
[ "$computed" -ge 20 ] && [ "$computed" -le 40 ] || {
  echo "computed $computed times, not 20 to 40"
  exit 1
}
