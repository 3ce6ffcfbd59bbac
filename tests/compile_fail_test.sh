#!/bin/sh
# What a user sees when the compiler stops at ucache's headers: one sentence
# naming the fix, for code compiled below C++20 and for a generic lambda
# passed to memoize, and nothing from deep inside the templates.
# Usage: compile_fail_test.sh INCLUDE_DIR   (CXX picks the compiler; g++)
set -eu

include="$1"
cxx="${CXX:-g++}"
work="$(mktemp -d "${TEST_TMPDIR:-/tmp}/compile_fail.XXXXXX")"
trap 'rm -rf "$work"' EXIT

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# Compiles stdin's program with flags "$@" (add -E to stop after the
# preprocessor, where #error fires); the diagnostics land in $work/err.
# Prints the compiler's exit status.
compile() {
  set +e
  "$cxx" "$@" -fsyntax-only -I"$include" -x c++ - >/dev/null 2>"$work/err"
  echo $?
  set -e
}

umbrella='#include "ucache/ucache.h"
int main() { return 0; }'

# The control: the same program compiles in C++20.
[ "$(echo "$umbrella" | compile -std=c++20)" = 0 ] ||
  fail "ucache.h does not compile in C++20: $(cat "$work/err")"

for std in c++17 c++14; do
  [ "$(echo "$umbrella" | compile -std="$std")" != 0 ] ||
    fail "-std=$std compiled"
  grep -q 'ucache needs C++20: compile the code that includes ucache headers with -std=c++20' \
    "$work/err" || fail "-std=$std: no #error naming the fix: $(head -5 "$work/err")"
done

# Each public header on its own says so too.
for header in "$include"/ucache/*.h; do
  name="ucache/${header##*/}"
  [ "$(printf '#include "%s"\n' "$name" | compile -std=c++17 -E)" != 0 ] ||
    fail "$name compiled in C++17"
  grep -q 'ucache needs C++20' "$work/err" || fail "$name: no #error in C++17"
  [ "$(printf '#include "%s"\n' "$name" | compile -std=c++20)" = 0 ] ||
    fail "$name does not compile on its own: $(head -5 "$work/err")"
done

generic='#include "ucache/memoize.h"
int main() {
  auto cached = ucache::memoize("twice/v1", [](auto x) { return 2 * x; });
  (void)cached;
}'
[ "$(echo "$generic" | compile -std=c++20)" != 0 ] || fail "a generic lambda compiled"
grep -q "ucache::memoize cannot tell this function's signature" "$work/err" ||
  fail "generic lambda: no static_assert sentence: $(head -5 "$work/err")"
if grep -q "cannot resolve address of overloaded function" "$work/err"; then
  fail "generic lambda: the deep template error is still there"
fi

echo PASS
