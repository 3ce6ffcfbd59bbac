#!/usr/bin/env bash
# Runs the README's memoization example twice on one fresh store: the first
# process must compute, the second must read the result from disk, and both
# must print the same values.
set -euo pipefail
bin="$1"
readme="$2"
source_file="$3"
store="${TEST_TMPDIR:-$(mktemp -d)}/store"

first="$("${bin}" "${store}")"
second="$("${bin}" "${store}")"
echo "first:  ${first}"
echo "second: ${second}"
[[ "${first}" == *"computed"* ]] || { echo "FAIL: first run did not compute"; exit 1; }
[[ "${second}" == *"read from disk"* ]] || { echo "FAIL: second run did not hit the disk"; exit 1; }
[[ "${first%%,*}" == "${second%%,*}" && "${first#*, }" != "" ]] || exit 1
v1="$(sed 's/.*v\[1000\] = \([^,]*\),.*/\1/' <<<"${first}")"
v2="$(sed 's/.*v\[1000\] = \([^,]*\),.*/\1/' <<<"${second}")"
[[ "${v1}" == "${v2}" ]] || { echo "FAIL: values differ: ${v1} vs ${v2}"; exit 1; }

# The README shows this example verbatim: keep them the same file.
python3 - "${readme}" "${source_file}" <<'PY'
import sys
readme, source = (open(p).read() for p in sys.argv[1:3])
if source not in readme:
    sys.exit("FAIL: README.md does not contain examples/memoize/simulate.cc verbatim")
PY
echo PASS
