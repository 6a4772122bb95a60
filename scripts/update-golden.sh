#!/usr/bin/env bash
# Regenerates every golden file from a built tree, on purpose: review the result with
# `git diff tests/ && git status tests/` before committing, so every change in output is seen.
#
# usage: scripts/update-golden.sh [BUILD_DIR]    (default: <repo>/build, built with ninja)
#   1. tests/data/hostile/*.pcap            rewritten by tools/gen_hostile_captures
#   2. tests/golden/{samples,hostile}/<capture>/{dump-V,summary,rings,stats}.txt and
#      {dump,summary,rings,stats}-json.txt  `vhostscope dump -V|summary|rings|stats` and their
#                                           --json forms (docs/json.md) of each capture in
#                                           captures/samples/ and tests/data/hostile/ (plus
#                                           <command>.stderr.txt when the command warns);
#                                           golden directories of removed captures are deleted
#   3. tests/golden/*.txt                   the scenario goldens of tests/cli_dump_test.cpp
#                                           (rewritten by the test itself with VHS_UPDATE_GOLDEN=1)
# tests/golden_test.cpp checks 1 and 2 with the same command list; keep the two in step.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
build=$(cd "${1:-$repo/build}" && pwd)
vhostscope=$build/vhostscope
generator=$build/tools/gen_hostile_captures
cli_dump_test=$build/tests/cli_dump_test
for program in "$vhostscope" "$generator" "$cli_dump_test"; do
  [[ -x $program ]] || { echo "update-golden: $program not built (ninja -C $build)" >&2; exit 2; }
done

# Same conditions as the golden test: relative capture paths from the repository root (summary
# prints the path), the C locale, UTC.
cd "$repo"
export LC_ALL=C TZ=UTC

"$generator" tests/data/hostile

# name of a golden file -> vhostscope arguments
declare -A commands=([dump-V]="dump -V" [summary]="summary" [rings]="rings" [stats]="stats"
  [dump-json]="dump --json" [summary-json]="summary --json" [rings-json]="rings --json"
  [stats-json]="stats --json")

regenerate_set() {
  local captures=$1 goldens=$2 capture name dir stem
  mkdir -p "$goldens"
  # Golden directories whose capture is gone.
  for dir in "$goldens"/*/; do
    [[ -d $dir ]] || continue
    name=$(basename "$dir")
    [[ -f $captures/$name.pcap ]] || { rm -r "$dir"; echo "update-golden: removed $dir"; }
  done
  for capture in "$captures"/*.pcap; do
    [[ -f $capture ]] || continue
    name=$(basename "$capture" .pcap)
    dir=$goldens/$name
    rm -rf "$dir"
    mkdir -p "$dir"
    for stem in "${!commands[@]}"; do
      # shellcheck disable=SC2086  # the arguments are meant to split
      "$vhostscope" ${commands[$stem]} "$capture" >"$dir/$stem.txt" 2>"$dir/$stem.stderr.txt" || {
        echo "update-golden: vhostscope ${commands[$stem]} $capture failed:" >&2
        cat "$dir/$stem.stderr.txt" >&2
        exit 1
      }
      [[ -s $dir/$stem.stderr.txt ]] || rm "$dir/$stem.stderr.txt"
    done
  done
}

regenerate_set captures/samples tests/golden/samples
regenerate_set tests/data/hostile tests/golden/hostile

VHS_UPDATE_GOLDEN=1 "$cli_dump_test" --gtest_filter='CliDumpTest.*Golden*' >/dev/null

echo "update-golden: done; review with: git diff --stat tests/ && git status --short tests/"
