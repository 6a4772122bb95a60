#!/usr/bin/env bash
# Regenerates the checked-in seed corpus of the fuzz targets (tests/fuzz/corpus/<target>/):
# the shipped and hostile captures for the capture targets, plus the seeds make_fuzz_seeds writes
# (messages, rings, ring-state/notify records, packets, filters). Crash regressions
# (corpus/<target>/crash-*) are kept. Builds build-fuzz (clang, VHS_FUZZ=ON) when needed.
#   scripts/make-fuzz-corpus.sh
set -euo pipefail
cd "$(dirname "$0")/.."

build=build-fuzz
if [ ! -f "$build/CMakeCache.txt" ]; then
  CC=clang CXX=clang++ cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DVHS_FUZZ=ON -DVHS_BUILD_TESTS=OFF -DVHS_BUILD_GUI=OFF >/dev/null
fi
ninja -C "$build" -j2 make_fuzz_seeds

corpus=tests/fuzz/corpus
targets=(capture_reader message_decode rings records store_formatters view_filter)
for t in "${targets[@]}"; do
  mkdir -p "$corpus/$t"
  find "$corpus/$t" -type f ! -name 'crash-*' -delete
done

for f in captures/samples/*.pcap tests/data/hostile/*.pcap; do
  cp "$f" "$corpus/capture_reader/"
  cp "$f" "$corpus/store_formatters/"
done

# The seeds a program writes are built from the decoders' own encoders, so they follow format
# changes; the environment variable keeps ASan's leak check quiet about the one-shot program.
ASAN_OPTIONS=detect_leaks=0 "$build/fuzz/make_fuzz_seeds" "$corpus" .

du -sh "$corpus"
for t in "${targets[@]}"; do
  printf '%-18s %s files\n' "$t" "$(find "$corpus/$t" -type f | wc -l)"
done
