#!/usr/bin/env bash
# A long fuzzing campaign on one target:  scripts/fuzz.sh TARGET SECONDS [extra libFuzzer flags]
#   TARGET: capture_reader message_decode rings records store_formatters view_filter
# Builds build-fuzz (clang, VHS_FUZZ=ON), copies the checked-in corpus to a work directory (the
# source tree is not touched), runs one job on one core, and leaves crashes, timeouts and leaks in
# build-fuzz/campaign/TARGET/crashes/. To keep a crash as a regression input, fix it and copy it
# to tests/fuzz/corpus/TARGET/ (the fuzz ctest replays the corpus).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ $# -lt 2 ]; then
  echo "usage: scripts/fuzz.sh TARGET SECONDS [libFuzzer flags...]" >&2
  exit 2
fi
target=$1 seconds=$2
shift 2
if [ ! -d "tests/fuzz/corpus/$target" ]; then
  echo "fuzz.sh: unknown target '$target' (see tests/fuzz/corpus/)" >&2
  exit 2
fi

build=build-fuzz
if [ ! -f "$build/CMakeCache.txt" ]; then
  CC=clang CXX=clang++ cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DVHS_FUZZ=ON -DVHS_BUILD_TESTS=OFF -DVHS_BUILD_GUI=OFF >/dev/null
fi
ninja -C "$build" -j2 "fuzz_$target"

work=$build/campaign/$target
mkdir -p "$work/corpus" "$work/crashes"
cp -n "tests/fuzz/corpus/$target/"* "$work/corpus/" 2>/dev/null || true

echo "fuzz.sh: $target for ${seconds}s; corpus $work/corpus, crashes in $work/crashes/"
set +e
"$build/fuzz/fuzz_$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
  -print_final_stats=1 -artifact_prefix="$work/crashes/" "$@" "$work/corpus"
rc=$?
set -e
found=$(find "$work/crashes" -type f | wc -l)
echo "fuzz.sh: exit $rc, $found file(s) in $work/crashes/"
exit $rc
