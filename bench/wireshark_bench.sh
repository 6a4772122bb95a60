#!/usr/bin/env bash
# Wireshark's view of a big capture against vhostscope's: times tshark with the vhostuser plugin
# (one pass, and two passes with -2 as the Wireshark GUI does), tshark with the dissector
# disabled (what reading the file costs tshark itself), and `vhostscope summary` over the same
# generated capture of MESSAGES messages (tools/gen_capture: QEMU-like vhost-user-blk sessions,
# deterministic). Prints median/min/max CPU seconds (user + system: other load on the machine
# stretches wall time, not this) of RUNS runs, the median wall time, peak RSS, records/s and each
# leg's CPU time as a ratio of `vhostscope summary` measured in the same run. Not a test: figures
# depend on the machine. Every leg is pinned to CPU 0 and bounded by a timeout.
#
# usage: bench/wireshark_bench.sh [BUILD_DIR] [RUNS] [MESSAGES]   (default build, 3, 1000000)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
build=$(cd "${1:-$repo/build}" && pwd)
runs=${2:-3}
messages=${3:-1000000}
vhostscope=$build/vhostscope
generator=$build/tools/gen_capture
plugin=$build/wireshark/vhostuser.so
for program in "$vhostscope" "$generator" "$plugin"; do
  [[ -e $program ]] || { echo "wireshark_bench: $program not built (ninja -C $build)" >&2; exit 2; }
done
command -v tshark >/dev/null || { echo "wireshark_bench: tshark not installed" >&2; exit 2; }

capture=${TMPDIR:-/tmp}/vhostscope-bench-$messages.pcap
[[ -s $capture ]] || "$generator" "$capture" --messages "$messages" --sessions 4 --queues 2 >/dev/null
records=$("$vhostscope" stats --json "$capture" | sed -n 's/.*"overall":{"session":null,"records":\([0-9]*\).*/\1/p')
echo "capture: $capture ($(du -h "$capture" | cut -f1), $records records)"

# A private HOME holding only our plugin as a personal plugin. Wireshark ignores personal plugins
# when run as root, so as root tshark runs as nobody (the HOME and the capture made readable).
home=$(mktemp -d)
trap 'rm -rf "$home"' EXIT
version=$(tshark --version | sed -n '1s/.*) \([0-9]*\.[0-9]*\)\..*/\1/p')
mkdir -p "$home/.local/lib/wireshark/plugins/$version/epan"
cp "$plugin" "$home/.local/lib/wireshark/plugins/$version/epan/"
tshark_cmd=(env "HOME=$home" LC_ALL=C.UTF-8 tshark)
if [[ $(id -u) == 0 ]]; then
  chmod -R a+rX "$home"
  chmod a+r "$capture"
  tshark_cmd=(setpriv --reuid=65534 --regid=65534 --clear-groups "${tshark_cmd[@]}")
fi
if ! "${tshark_cmd[@]}" -G protocols 2>/dev/null | grep -q $'\tvhostuser$'; then
  echo "wireshark_bench: tshark did not load $plugin" >&2
  exit 2
fi

baseline=""
# One command, RUNS times: median/min/max CPU seconds, median wall seconds, the largest peak RSS,
# the ratio to the first leg.
measure() {
  local label=$1
  shift
  local times=() walls=() peak=0 out report
  report=$(mktemp)
  for ((i = 0; i < runs; i++)); do
    if ! timeout 600 /usr/bin/time -f '%e %U %S %M' -o "$report" taskset -c 0 "$@" >/dev/null 2>&1; then
      echo "wireshark_bench: '$label' failed: $*" >&2
      exit 1
    fi
    read -r wall user sys rss < <(tail -1 "$report")
    times+=("$(awk -v u="$user" -v s="$sys" 'BEGIN { print u + s }')")
    walls+=("$wall")
    if ((rss > peak)); then peak=$rss; fi
  done
  rm -f "$report"
  mapfile -t sorted < <(printf '%s\n' "${times[@]}" | sort -g)
  mapfile -t sorted_walls < <(printf '%s\n' "${walls[@]}" | sort -g)
  local median=${sorted[$((runs / 2))]}
  [[ -n $baseline ]] || baseline=$median
  awk -v l="$label" -v med="$median" -v lo="${sorted[0]}" -v hi="${sorted[$((runs - 1))]}" \
    -v wall="${sorted_walls[$((runs / 2))]}" -v rss="$peak" -v n="$records" -v base="$baseline" \
    'BEGIN { printf "%-44s CPU %6.2f s (min %.2f, max %.2f)  wall %6.2f s  RSS %4.0f MiB  %8.0f rec/s  %5.1fx summary\n",
             l, med, lo, hi, wall, rss / 1024, (med > 0 ? n / med : 0), (base > 0 ? med / base : 0) }'
}

measure "vhostscope summary" "$vhostscope" summary "$capture"
measure "tshark, dissector disabled" "${tshark_cmd[@]}" --disable-protocol vhostuser -r "$capture" -q
measure "tshark -q (one pass)" "${tshark_cmd[@]}" -r "$capture" -q
measure "tshark -2 -q (two passes)" "${tshark_cmd[@]}" -2 -r "$capture" -q
measure "tshark -2 -Y frame.len>9999, dissector off" "${tshark_cmd[@]}" -2 --disable-protocol vhostuser -r "$capture" -Y 'frame.len > 9999'
measure "tshark -2 -Y 'vhostuser.request == 11'" "${tshark_cmd[@]}" -2 -r "$capture" -Y 'vhostuser.request == 11'
measure "tshark -2 -Y 'expert errors'" "${tshark_cmd[@]}" -2 -r "$capture" -Y '_ws.expert.severity == error'
