#!/usr/bin/env bash
# The test command: installs what is missing, builds, and runs the whole suite twice —
# a normal build (warnings as errors) and an AddressSanitizer + UBSan build — then a short
# libFuzzer pass over every fuzz target (corpus replay plus a fixed number of runs).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh

run_suite() {
  local dir=$1; shift
  cmake -S . -B "$dir" -G Ninja -DVHS_WERROR=ON "$@" >/dev/null
  ninja -C "$dir" -j2
  ctest --test-dir "$dir" --output-on-failure --timeout 600 -j2
}

echo "== normal build =="
run_suite build -DCMAKE_BUILD_TYPE=RelWithDebInfo
echo "== AddressSanitizer + UBSan build =="
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  run_suite build-asan -DCMAKE_BUILD_TYPE=Debug -DVHS_SANITIZE=ON
echo "== fuzz build =="
# libFuzzer needs clang; only the fuzz targets and the libraries they link are built. Not
# -Werror: clang 14 flags what GCC does not (an unused constant, sign conversions); the GCC
# builds above are the warning gate.
CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DVHS_FUZZ=ON -DVHS_BUILD_TESTS=OFF -DVHS_BUILD_GUI=OFF >/dev/null
ninja -C build-fuzz -j2 fuzz_targets
ctest --test-dir build-fuzz -L fuzz --output-on-failure --timeout 300 -j2
