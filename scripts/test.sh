#!/usr/bin/env bash
# Command 2 of the README: install what is needed, build, and run every test.
#   1. release build with warnings as errors; unit, integration and SDK client tests
#   2. -fsanitize=address,undefined build; unit tests again under the sanitizers
#   3. clang-format check of every C++ file
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
start=$(date +%s)
bash scripts/setup.sh --dev

echo "== release build (-Werror)"
GANTRY_WERROR=ON bash scripts/build.sh release
echo "== default models (engine parity tests need them; cached in models/ or \$GANTRY_MODELS)"
./build/gantry models pull
echo "== unit, integration, client and model tests"
ctest --test-dir build --output-on-failure -j 2 --timeout 900

echo "== sanitizer build (address, undefined)"
GANTRY_WERROR=ON bash scripts/build.sh asan
echo "== unit, integration and client tests under ASan/UBSan"
# The integration tests drive the real server (coroutines, pools, shutdown) under the
# sanitizers; an ASan report aborts gantry and the test shows its log.
# The model-parity tests (label "model") run in the release build only: at -O0 under the
# sanitizers a 270M-parameter forward pass takes minutes and checks nothing new.
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan --output-on-failure -j 2 --timeout 900 -LE model

echo "== clang-format"
files=$(git ls-files '*.h' '*.cc')
if ! clang-format --dry-run --Werror $files; then
  echo "clang-format: run 'clang-format -i \$(git ls-files \"*.h\" \"*.cc\")'" >&2
  exit 1
fi
echo "== all tests passed in $(( $(date +%s) - start )) s"
