#!/usr/bin/env bash
# One fuzz ctest: replay the checked-in corpus of a target, then run it for a fixed number of
# mutations with a fixed seed (repeatable in CI). -max_total_time is only a safety net.
#   run_fuzz_test.sh FUZZ_BINARY CORPUS_DIR WORK_DIR RUNS
set -euo pipefail
binary=$1 corpus=$2 work=$3 runs=$4
rm -rf "$work"
mkdir -p "$work/new" "$work/artifacts"
# New inputs land in the first directory (scratch); the corpus is read-only input.
exec "$binary" -seed=1 -runs="$runs" -max_total_time=60 -timeout=10 -rss_limit_mb=2048 \
  -print_final_stats=1 -artifact_prefix="$work/artifacts/" "$work/new" "$corpus"
