#!/bin/sh
# Smoke test of the real `ucache` binary: what cli_test cannot see from
# in-process, i.e. main()'s wiring of stdin, stdout, stderr and exit codes.
# Usage: cli_smoke_test.sh PATH_TO_UCACHE
set -eu

ucache="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
work="$(mktemp -d "${TEST_TMPDIR:-/tmp}/cli_smoke.XXXXXX")"
trap 'rm -rf "$work"' EXIT
store="$work/store"

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# Runs the binary and prints its exit code instead of letting set -e stop.
code() {
  set +e
  "$@" >"$work/out" 2>"$work/err"
  echo $?
  set -e
}

# Binary-safe round trip through real pipes: NUL, high bytes, no newline.
printf 'a\000b\377c' >"$work/value"
"$ucache" put "$store" greeting <"$work/value" || fail "put"
"$ucache" get "$store" greeting >"$work/got" || fail "get"
cmp "$work/value" "$work/got" || fail "get returned other bytes"

[ "$(code "$ucache" get "$store" missing)" = 1 ] || fail "miss is not 1"
[ ! -s "$work/err" ] || fail "miss printed on stderr"

[ "$(code "$ucache" get "$work/nowhere" k)" = 2 ] || fail "no dir is not 2"
grep -q '^ucache: ' "$work/err" || fail "error lacks the ucache: prefix"
[ ! -e "$work/nowhere" ] || fail "get created the directory"

[ "$("$ucache" ls "$store")" = greeting ] || fail "ls"
"$ucache" stats --json "$store" | grep -q '"entries": 1' || fail "stats"
"$ucache" verify "$store" >/dev/null || fail "verify"

# stdout is a file here, not a terminal: no progress bar on stderr.
"$ucache" compact "$store" >"$work/out" 2>"$work/err" || fail "compact"
grep -q '^before:' "$work/out" || fail "compact printed no sizes"
[ ! -s "$work/err" ] || fail "progress bar drawn without a terminal"

# A Redis URL for DIR: a refused connection is exit 2 and one line naming
# the URL (cli_test runs the commands against real servers).
[ "$(code "$ucache" get redis://127.0.0.1:1 k)" = 2 ] || fail "remote not 2"
[ "$(wc -l <"$work/err")" -eq 1 ] || fail "remote error is not one line"
grep -q '^ucache: get: redis://127.0.0.1:1: ' "$work/err" ||
  fail "remote error does not name the URL"

[ "$(code "$ucache" frobnicate)" = 2 ] || fail "unknown subcommand"
[ "$(code "$ucache" put "$store" k --ttl abc)" = 2 ] || fail "bad --ttl"
"$ucache" --version | grep -q '^ucache ' || fail "--version"

# `bazel run` starts the tool in its runfiles tree and says where the user
# stands in BUILD_WORKING_DIRECTORY: a relative DIR is taken from there.
mkdir -p "$work/user"
(cd / && printf v | BUILD_WORKING_DIRECTORY="$work/user" "$ucache" put rel k) ||
  fail "put with BUILD_WORKING_DIRECTORY"
[ "$(cd / && BUILD_WORKING_DIRECTORY="$work/user" "$ucache" ls rel)" = k ] ||
  fail "relative DIR not taken from BUILD_WORKING_DIRECTORY"

# Keys are bytes, never paths: run from inside a jail, with the store given
# relatively, traversal keys name no file anywhere (cli_test has the rest).
mkdir -p "$work/jail/a"
(
  cd "$work/jail/a"
  printf v1 | "$ucache" put store ../../x
  printf v2 | "$ucache" put store -- /../x
  [ "$("$ucache" get store ../../x)" = v1 ]
  [ "$("$ucache" get store -- /../x)" = v2 ]
) || fail "traversal keys do not round-trip"
files="$(cd "$work/jail" && find . -type f | sort | tr '\n' ' ')"
[ "$files" = "./a/store/index ./a/store/lock ./a/store/log.0000000000000001 " ] ||
  fail "files outside the store's own: $files"

echo PASS
