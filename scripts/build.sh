#!/usr/bin/env bash
# Configures and builds with CMake + Ninja.
#   scripts/build.sh            release build in build/ (build/gantry)
#   scripts/build.sh asan       -fsanitize=address,undefined build in build-asan/
# Environment: GANTRY_WERROR=ON to treat warnings as errors (CI does).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
kind="${1:-release}"
export CCACHE_BASEDIR="$here" CCACHE_NOHASHDIR=1
jobs="${GANTRY_JOBS:-$(nproc)}"
case "$kind" in
  release)
    cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DGANTRY_WERROR="${GANTRY_WERROR:-OFF}" -DGANTRY_BUILD_TESTS="${GANTRY_BUILD_TESTS:-ON}" >/dev/null
    ninja -C build -j "$jobs"
    ;;
  asan)
    cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DGANTRY_SANITIZE=ON \
      -DGANTRY_WERROR="${GANTRY_WERROR:-OFF}" -DGANTRY_BUILD_TESTS=ON >/dev/null
    ninja -C build-asan -j "$jobs"
    ;;
  *)
    echo "usage: scripts/build.sh [release|asan]" >&2
    exit 2
    ;;
esac
