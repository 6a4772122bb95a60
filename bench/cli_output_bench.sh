#!/usr/bin/env bash
# Times `vhostscope dump --json` and `vhostscope stats` (text and --json) over a generated capture
# of 1M messages (tools/gen_capture: QEMU-like vhost-user-blk sessions, deterministic). Prints the
# median, min and max wall seconds of RUNS runs of each, the peak RSS, and records/s. Not a test:
# the figures depend on the machine. Output goes to /dev/null, so the cost measured is loading,
# decoding and formatting, not the terminal.
#
# usage: bench/cli_output_bench.sh [BUILD_DIR] [RUNS] [MESSAGES]   (default build, 5, 1000000)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
build=$(cd "${1:-$repo/build}" && pwd)
runs=${2:-5}
messages=${3:-1000000}
vhostscope=$build/vhostscope
generator=$build/tools/gen_capture
for program in "$vhostscope" "$generator"; do
  [[ -x $program ]] || { echo "cli_output_bench: $program not built (ninja -C $build)" >&2; exit 2; }
done

capture=${TMPDIR:-/tmp}/vhostscope-bench-$messages.pcap
[[ -s $capture ]] || "$generator" "$capture" --messages "$messages" --sessions 4 --queues 2 >/dev/null
records=$("$vhostscope" stats --json "$capture" | sed -n 's/.*"overall":{"session":null,"records":\([0-9]*\).*/\1/p')
echo "capture: $capture ($(du -h "$capture" | cut -f1), $records records)"

# One command, RUNS times: median/min/max wall seconds and the largest peak RSS.
measure() {
  local label=$1
  shift
  local times=() peak=0 out report
  report=$(mktemp)
  for ((i = 0; i < runs; i++)); do
    /usr/bin/time -f '%e %M' -o "$report" "$@" >/dev/null 2>&1
    out=$(tail -1 "$report")
    times+=("${out% *}")
    if ((${out#* } > peak)); then peak=${out#* }; fi
  done
  rm -f "$report"
  mapfile -t sorted < <(printf '%s\n' "${times[@]}" | sort -g)
  local median=${sorted[$((runs / 2))]}
  awk -v l="$label" -v med="$median" -v lo="${sorted[0]}" -v hi="${sorted[$((runs - 1))]}" \
    -v rss="$peak" -v n="$records" \
    'BEGIN { printf "%-22s median %6.2f s (min %.2f, max %.2f)  peak RSS %5.0f MiB  %8.0f records/s\n",
             l, med, lo, hi, rss / 1024, (med > 0 ? n / med : 0) }'
}

measure "summary (load only)" "$vhostscope" summary "$capture"
measure "dump" "$vhostscope" dump "$capture"
measure "dump --json" "$vhostscope" dump --json "$capture"
measure "stats" "$vhostscope" stats "$capture"
measure "stats --json" "$vhostscope" stats --json "$capture"
