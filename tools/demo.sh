#!/usr/bin/env bash
# The main job on an embedded default: builds the ucache CLI and walks a store
# through its life, printing every command it runs.
#
#   tools/demo.sh
#   UCACHE_DEMO_DIR=/tmp/store tools/demo.sh
#
# The store lives in $UCACHE_DEMO_DIR, by default
# ${XDG_CACHE_HOME:-$HOME/.cache}/ucache/demo. It is kept afterwards (inspect it
# with bazel-bin/tools/ucache ls/stats DIR); running the demo again replaces
# its values.
set -Eeuo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir="${UCACHE_DEMO_DIR:-${XDG_CACHE_HOME:-${HOME}/.cache}/ucache/demo}"

say() { printf 'demo: %s\n' "$*"; }
trap 'say "FAILED (line ${LINENO}, exit $?)" >&2' ERR

tmp="$(mktemp -d "${TMPDIR:-/tmp}/ucache-demo.XXXXXX")"
trap 'rm -rf "${tmp}"' EXIT

cd "${repo_root}"
say "building the CLI"
# --nosandbox_debug: Debian's /etc/bazel/bazelrc turns sandbox debugging on,
# which buries compiler warnings under the sandbox's setup log.
printf '$ bazel build -c opt --nosandbox_debug //tools:ucache\n'
bazel build -c opt --nosandbox_debug //tools:ucache
ucache_bin="$(bazel info -c opt bazel-bin 2>/dev/null)/tools/ucache"
if [[ ! -x "${ucache_bin}" ]]; then
  say "no binary at ${ucache_bin}" >&2
  exit 1
fi

# Each shows the command as `ucache ...`, then runs the built binary with it;
# put_from feeds FILE on stdin, get_to writes stdout to FILE.
ucache() {
  printf '\n$ ucache %s\n' "$*"
  "${ucache_bin}" "$@"
}
put_from() {
  local file="$1"
  shift
  printf '\n$ ucache put %s < %s\n' "$*" "${file#"${tmp}/"}"
  "${ucache_bin}" put "$@" <"${file}"
}
get_to() {
  local file="$1"
  shift
  printf '\n$ ucache get %s > %s\n' "$*" "${file#"${tmp}/"}"
  "${ucache_bin}" get "$@" >"${file}"
}

say "store: ${dir}"

printf 'hello, ucache\n' >"${tmp}/greeting"
date -u '+built %Y-%m-%dT%H:%M:%SZ' >"${tmp}/stamp"
# 1 MiB of decimal numbers: compressible, like most cached results.
seq 1 250000 >"${tmp}/numbers.full"
head -c 1048576 "${tmp}/numbers.full" >"${tmp}/numbers"

printf '\n# three values on stdin: a greeting, a timestamp that expires in an hour,\n# and 1 MiB of generated numbers\n'
put_from "${tmp}/greeting" "${dir}" greeting
put_from "${tmp}/stamp" "${dir}" stamp --ttl 3600
put_from "${tmp}/numbers" "${dir}" numbers

printf '\n# read two back\n'
ucache get "${dir}" greeting
get_to "${tmp}/numbers.out" "${dir}" numbers
if ! cmp -s "${tmp}/numbers" "${tmp}/numbers.out"; then
  say "the 1 MiB value read back differs from the one put" >&2
  exit 1
fi
say "numbers: $(wc -c <"${tmp}/numbers.out") bytes back, identical to the bytes put"

printf '\n# a miss exits 1\n'
miss_rc=0
ucache get "${dir}" no-such-key || miss_rc=$?
if ((miss_rc != 1)); then
  say "get of an absent key exited ${miss_rc}, want 1" >&2
  exit 1
fi
say "exit ${miss_rc}: miss"

ucache ls "${dir}"
ucache stats "${dir}"
ucache verify "${dir}"
ucache compact "${dir}"
ucache stats "${dir}" --json

printf '\n'
say "OK: the store stays in ${dir}"
