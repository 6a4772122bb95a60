#!/usr/bin/env bash
# Big captures: times `vhostscope summary` over generated captures of 1M and 10M records (100M
# with --100m) in the mix a busy device under `record --interpose-notify` writes
# (tools/gen_capture --mix busy: 90 % kick/call notification records, 2 % ring-state samples, 8 %
# control messages), and prints wall seconds, CPU seconds, peak RSS, RSS bytes per record and the
# ratios against the baselines measured in the same run on the same file: `cat FILE > /dev/null`
# (the page cache warm) and the capture readers alone (bench/big_capture_read_bench: libpcap, and
# the memory map that `summary FILE` uses). Not a test: the figures depend on the machine.
#
# usage: bench/big_capture_bench.sh [BUILD_DIR] [--100m] [--runs N] [--dir DIR]
#   captures are generated once into DIR (default ${TMPDIR:-/tmp}) and reused; 100M records take
#   about 5.6 GB of disk.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
build=$repo/build
sizes=(1000000 10000000)
runs=3
dir=${TMPDIR:-/tmp}
while (($#)); do
  case $1 in
    --100m) sizes+=(100000000) ;;
    --runs) runs=$2; shift ;;
    --dir) dir=$2; shift ;;
    -*) echo "usage: $0 [BUILD_DIR] [--100m] [--runs N] [--dir DIR]" >&2; exit 2 ;;
    *) build=$(cd "$1" && pwd) ;;
  esac
  shift
done
vhostscope=$build/vhostscope
generator=$build/tools/gen_capture
reader=$build/bench/big_capture_read_bench
for program in "$vhostscope" "$generator" "$reader"; do
  [[ -x $program ]] || { echo "big_capture_bench: $program not built (ninja -C $build)" >&2; exit 2; }
done

# Median of RUNS runs of a command: "wall user+sys maxrss_kib" of the median-wall run.
# A failed run's timings would measure an error path, not the reader: it stops the benchmark.
measure() {
  local report lines=() status
  report=$(mktemp)
  for ((i = 0; i < runs; i++)); do
    status=0
    /usr/bin/time -f '%e %U %S %M' -o "$report" "$@" >/dev/null 2>&1 || status=$?
    if ((status != 0)); then
      echo "$0: '$*' failed with exit status $status; no timings reported" >&2
      rm -f "$report"
      return 1
    fi
    lines+=("$(tail -1 "$report")")
  done
  rm -f "$report"
  printf '%s\n' "${lines[@]}" | sort -g | sed -n "$((runs / 2 + 1))p" |
    awk '{ printf "%s %.2f %s\n", $1, $2 + $3, $4 }'
}

printf '%-11s %8s %7s %8s %8s | %8s %8s %9s %9s %8s %9s\n' records "file MB" "cat s" "libpcap" \
  "mapped" "summary" "CPU s" "RSS MiB" "B/record" "× cat" "× mapped"
for n in "${sizes[@]}"; do
  capture=$dir/vhostscope-big-$n.pcap
  [[ -s $capture ]] || "$generator" "$capture" --messages "$n" --sessions 4 --queues 4 \
    --mix busy >/dev/null
  cat "$capture" >/dev/null  # warm the page cache: every leg reads the same cached file
  timing=$(measure cat "$capture") || exit 1
  read -r cat_s _ _ <<<"$timing"
  reads=$("$reader" "$capture")
  libpcap_s=$(awk '/^libpcap/ { print $(NF-3) }' <<<"$reads")
  mapped_s=$(awk '/^mapped/ { print $(NF-3) }' <<<"$reads")
  records=$(awk '/^mapped/ { print $2 }' <<<"$reads")
  timing=$(measure "$vhostscope" summary "$capture") || exit 1
  read -r wall cpu rss <<<"$timing"
  awk -v n="$records" -v mb="$(stat -c %s "$capture")" -v cat_s="$cat_s" -v lp="$libpcap_s" \
    -v mp="$mapped_s" -v wall="$wall" -v cpu="$cpu" -v rss="$rss" \
    'BEGIN { printf "%-11d %8.0f %7.2f %8.2f %8.2f | %8.2f %8.2f %9.0f %9.1f %8.1f %9.1f\n",
             n, mb / 1e6, cat_s, lp, mp, wall, cpu, rss / 1024, rss * 1024 / n,
             (cat_s > 0 ? wall / cat_s : 0), (mp > 0 ? wall / mp : 0) }'
done
