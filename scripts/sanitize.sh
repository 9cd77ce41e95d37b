#!/usr/bin/env bash
# Builds the CPU code with AddressSanitizer (+ LeakSanitizer) and
# UndefinedBehaviorSanitizer (-DGENCAST_SANITIZE=address,undefined) and runs
# the whole CPU test suite under them. Every report is fatal (the build uses
# -fno-sanitize-recover=all), so a test that triggers one fails.
#
# Usage: scripts/sanitize.sh [ctest arguments...]   e.g. -R bad_inputs
# Environment: SANITIZE_BUILD_DIR (default build-asan); SANITIZE_TAGS: run only
#   the Catch2 test cases of these tags (e.g. "[npz],[spec]"; Catch's syntax:
#   "," = or, "~" = not) straight from gencast_tests instead of ctest — CI's
#   subset, see docs/bad-inputs.md.
#
# Leaks inside the libraries we use (not in our code) are suppressed in
# scripts/lsan-suppressions.txt, each with the reason.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${SANITIZE_BUILD_DIR:-build-asan}
start=$(date +%s)
# Warnings stay warnings here: GCC reports false "maybe-uninitialized" inside
# libstdc++ under -fsanitize; the ordinary build (-Werror) gates warnings.
cmake -S . -B "$build" -G Ninja -DGENCAST_CUDA=OFF -DGENCAST_SANITIZE=address,undefined \
  -DGENCAST_WERROR=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build"
built=$(date +%s)
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:check_initialization_order=1:strict_init_order=1
export LSAN_OPTIONS=suppressions=$PWD/scripts/lsan-suppressions.txt:print_suppressions=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
if [[ -n ${SANITIZE_TAGS:-} ]]; then
  "$build/tests/gencast_tests" "$SANITIZE_TAGS"
else
  ctest --test-dir "$build" --output-on-failure -j"$(nproc)" "$@"
fi
end=$(date +%s)
echo "sanitize: build $((built - start)) s, tests $((end - built)) s under ASan+UBSan"
