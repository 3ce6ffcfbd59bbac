#!/usr/bin/env bash
# Prepares a fresh Debian bookworm machine for ucache, then runs the demo.
#
#   tools/setup.sh                     # as root, or as a user who may sudo
#   UCACHE_SKIP_DEMO=1 tools/setup.sh  # install only
#
# Installs, from Debian's own archive, Bazel (bazel-bootstrap 4.2.3 and the
# rules it reads offline), CMake and pkg-config, the compiler, the libraries ucache links (cereal,
# xxHash, LZ4, CLI11, hiredis, GoogleTest, Google Benchmark), redis-server
# (the remote tier's tests start their own instances), the stores the benchmark
# compares against (LMDB, RocksDB, LevelDB, SQLite, Python's joblib and
# diskcache), and clang with its sanitizer and fuzzer runtimes. Nothing is
# downloaded from anywhere else. When every package is already installed, apt
# is not called at all, so a second run costs nothing.
#
# Then it runs tools/demo.sh: builds the ucache CLI and exercises it on a
# store under ~/.cache/ucache/demo. When started through sudo, the demo runs
# as the user who called sudo, so the build tree and the store stay theirs.
set -euo pipefail

readonly PACKAGES=(
  # Build systems and compiler: Bazel (the primary build) and CMake with
  # pkg-config (the second build, and what its installed package offers).
  bazel-bootstrap bazel-rules-java bazel-platforms g++ cmake pkgconf
  # Libraries ucache builds with (wrapped by deps.bzl, see third_party/).
  # libgtest-dev and libgmock-dev ship libgtest.a/libgmock.a themselves.
  libcereal-dev libxxhash-dev liblz4-dev libcli11-dev libhiredis-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  # What bench/ compares ucache with.
  liblmdb-dev librocksdb-dev libleveldb-dev libsqlite3-dev
  python3-joblib python3-diskcache python3-numpy
  # The Redis server the remote tier's tests start instances of.
  redis-server
  # Sanitizers and fuzzing.
  clang libclang-rt-14-dev lld
)

say() { printf 'setup: %s\n' "$*"; }

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

if [[ ! -r /etc/debian_version ]]; then
  say "warning: this is not Debian; the package names below are bookworm's"
fi

missing=()
for pkg in "${PACKAGES[@]}"; do
  status="$(dpkg-query -W -f='${db:Status-Status}' "${pkg}" 2>/dev/null || true)"
  if [[ "${status}" != "installed" ]]; then
    missing+=("${pkg}")
  fi
done

if ((${#missing[@]} == 0)); then
  say "all ${#PACKAGES[@]} packages are installed; skipping apt"
else
  say "missing ${#missing[@]} of ${#PACKAGES[@]} packages: ${missing[*]}"
  if ((EUID == 0)); then
    as_root=()
  elif command -v sudo >/dev/null 2>&1; then
    say "not root: using sudo for apt-get"
    as_root=(sudo)
  else
    say "error: not root and sudo is not installed; run this script as root" >&2
    exit 1
  fi
  say "running: apt-get update"
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update
  say "running: apt-get install -y --no-install-recommends ${missing[*]}"
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y --no-install-recommends "${missing[@]}"
  say "installed: ${missing[*]}"
fi

say "bazel is $(command -v bazel) ($(bazel --version 2>/dev/null || echo 'version unknown'))"

if [[ "${UCACHE_SKIP_DEMO:-0}" == 1 ]]; then
  say "UCACHE_SKIP_DEMO=1: not running the demo"
  exit 0
fi

demo=("${repo_root}/tools/demo.sh")
if ((EUID == 0)) && [[ -n "${SUDO_USER:-}" && "${SUDO_USER}" != root ]]; then
  # Started as `sudo tools/setup.sh`: build and run as the caller, not root.
  say "running the demo as ${SUDO_USER}: ${demo[*]}"
  exec sudo -H -u "${SUDO_USER}" \
    env ${UCACHE_DEMO_DIR:+"UCACHE_DEMO_DIR=${UCACHE_DEMO_DIR}"} "${demo[@]}"
fi
say "running the demo: ${demo[*]}"
exec "${demo[@]}"
