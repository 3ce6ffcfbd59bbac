#!/usr/bin/env bash
# Fails when a .cc file under src/ is in one build and not the other: every
# one must be compiled into Bazel's //:ucache (its dependency graph, as
# `bazel query` sees it) and into CMake's ucache library (the files of
# compile_commands.json, from a configure into a scratch directory).
#
#   tools/check_sources.sh
#
# Prints each file missing from a build and exits 1; exits 0 when the two
# builds and the tree agree.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${root}"
scratch="$(mktemp -d "${TMPDIR:-/tmp}/ucache-check-sources.XXXXXX")"
trap 'rm -rf "${scratch}"' EXIT

find src -name '*.cc' | LC_ALL=C sort >"${scratch}/tree"

# //src/fcache:record.cc -> src/fcache/record.cc
bazel query --color=no --curses=no --noshow_progress \
  'kind("source file", deps(//:ucache))' 2>"${scratch}/bazel.err" |
  sed -n 's|^//\(src/[^:]*\):\(.*\.cc\)$|\1/\2|p' | LC_ALL=C sort -u \
  >"${scratch}/bazel" || {
  cat "${scratch}/bazel.err" >&2
  echo "check_sources: bazel query failed" >&2
  exit 2
}

cmake -S . -B "${scratch}/cmake" -DUCACHE_BUILD_TESTS=OFF \
  -DCMAKE_EXPORT_COMPILE_COMMANDS=ON >"${scratch}/cmake.log" 2>&1 || {
  cat "${scratch}/cmake.log" >&2
  echo "check_sources: cmake configure failed" >&2
  exit 2
}
python3 - "${root}" "${scratch}/cmake/compile_commands.json" <<'PY' |
import json, os, sys
root, path = sys.argv[1], sys.argv[2]
for entry in json.load(open(path)):
    rel = os.path.relpath(os.path.join(entry["directory"], entry["file"]), root)
    if rel.startswith("src/") and rel.endswith(".cc"):
        print(rel)
PY
  LC_ALL=C sort -u >"${scratch}/cmake.list"

status=0
for build in bazel cmake; do
  list="${scratch}/${build}"
  [[ "${build}" == cmake ]] && list="${scratch}/cmake.list"
  missing="$(LC_ALL=C comm -23 "${scratch}/tree" "${list}")"
  if [[ -n "${missing}" ]]; then
    status=1
    while IFS= read -r file; do
      echo "check_sources: ${file} is not in the ${build} build"
    done <<<"${missing}"
  fi
done
if ((status == 0)); then
  echo "check_sources: $(wc -l <"${scratch}/tree") .cc files under src/, all in both builds"
fi
exit "${status}"
