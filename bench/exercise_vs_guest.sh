#!/usr/bin/env bash
# `vhostscope exercise --bench` against a QEMU (TCG) guest issuing the same reads, on one
# qemu-storage-daemon set-up: 4 KiB and 64 KiB O_DIRECT reads, one in flight (the guest's busybox
# dd, scenario "readbench" of scripts/guest/init; the exerciser's queue depth 1 figures), one
# queue, every process on CPU 0. Each round runs both legs against a fresh daemon, exerciser
# first, and the ratio exerciser/guest is taken within the round; the table gives the medians.
# Then the exerciser's packets/s through dpdk-testpmd (io forwarding, --no-huge --no-pci, both
# its lcores on CPU 0), which has no guest leg: a TCG guest cannot send at a comparable rate,
# and the exerciser's own CPU time per frame (what it would cost on a core of its own).
#
# usage: bench/exercise_vs_guest.sh [--rounds N] [--seconds S] [--build DIR] [--no-net]
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=3
seconds=5
net=1
build=${VHS_BENCH_BUILD_DIR:-build-release}
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    --no-net) net=0; shift ;;
    -h|--help) sed -n 2,12p "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "exercise_vs_guest: unknown option '$1'" >&2; exit 2 ;;
  esac
done
for tool in jq qemu-storage-daemon qemu-system-x86_64 taskset /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "exercise_vs_guest: missing $tool" >&2; exit 2; }
done

bench_name=exercise_vs_guest
. bench/guest_rig_lib.sh
rig_prepare
vhostscope=$build/vhostscope

# Exerciser leg: prints "iops4k iops64k qd32_4k qd32_64k".
exerciser_leg() {
  local dir=$work/ex-$1
  mkdir -p "$dir"
  start_daemon "$dir" 64M
  taskset -c 0 "$vhostscope" exercise --backend-connect "$dir/be.sock" --device blk --queues 1 \
    --workload none --bench --bench-time "$seconds" --format json -o "$dir/report.json" \
    > "$dir/exercise.log" 2>&1 || { echo "exercise_vs_guest: exercise failed" >&2; cat "$dir/exercise.log" "$dir/report.json" >&2; return 1; }
  stop_all
  local q
  for q in "1 4096" "1 65536" "32 4096" "32 65536"; do
    set -- $q
    jq -r --argjson d "$1" --argjson b "$2" \
      '.bench[] | select(.queue == 0 and .depth == $d and .block_size == $b) | .iops' "$dir/report.json"
  done | tr '\n' ' '
  echo
}

# Guest leg: prints "iops4k iops64k" from the guest's READ-RATE lines.
guest_leg() {
  local dir=$work/guest-$1
  mkdir -p "$dir"
  start_daemon "$dir" 64M
  start_guest "$dir" "$dir/be.sock" readbench "$seconds"
  wait_line "$dir/serial.log" 'VHOSTSCOPE-GUEST: (PASS|FAIL)' $((200 + 3 * seconds)) ||
    { echo "exercise_vs_guest: the guest did not finish" >&2; tail -5 "$dir/serial.log" >&2; return 1; }
  grep -aq 'VHOSTSCOPE-GUEST: PASS' "$dir/serial.log" ||
    { echo "exercise_vs_guest: $(grep -a 'VHOSTSCOPE-GUEST: FAIL' "$dir/serial.log")" >&2; return 1; }
  stop_all
  local bs
  for bs in 4096 65536; do
    grep -a "READ-RATE bs=$bs " "$dir/serial.log" |
      sed -E 's/.*ios=([0-9]+) centis=([0-9]+).*/\1 \2/' | awk '{ printf "%.1f ", $1 * 100 / $2 }'
  done
  echo
}

median() { tr ' ' '\n' <<< "$1" | grep . | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", a / b }'; }

ex4="" ex64="" ex4_32="" ex64_32="" g4="" g64="" r4="" r64=""
for ((r = 0; r < rounds; r++)); do
  read -r e4 e64 e4_32 e64_32 < <(exerciser_leg "$r")
  read -r q4 q64 < <(guest_leg "$r")
  ex4+=" $e4"; ex64+=" $e64"; ex4_32+=" $e4_32"; ex64_32+=" $e64_32"; g4+=" $q4"; g64+=" $q64"
  r4+=" $(ratio "$e4" "$q4")"; r64+=" $(ratio "$e64" "$q64")"
  echo "round $r: exerciser qd1 4k $e4 IOPS, 64k $e64 IOPS (qd32 $e4_32, $e64_32); guest 4k $q4 IOPS, 64k $q64 IOPS" >&2
done

echo "exercise_vs_guest: $rounds rounds x $seconds s per block size, qemu-storage-daemon (raw file, 64 MiB), 1 queue, O_DIRECT reads, one in flight, all on CPU 0, load $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-6s %16s %12s %16s   %s\n' bs "exerciser IOPS" "guest IOPS" "exerciser/guest" "ratio per round"
printf '%-6s %16.0f %12.0f %16s   %s\n' 4k "$(median "$ex4")" "$(median "$g4")" "$(median "$r4")" "${r4# }"
printf '%-6s %16.0f %12.0f %16s   %s\n' 64k "$(median "$ex64")" "$(median "$g64")" "$(median "$r64")" "${r64# }"
printf 'exerciser at queue depth 32 (no guest leg): 4k %.0f IOPS, 64k %.0f IOPS\n' "$(median "$ex4_32")" "$(median "$ex64_32")"

[ "$net" = 1 ] || exit 0
testpmd=${VHS_TESTPMD:-/usr/bin/dpdk-testpmd}
[ -x "$testpmd" ] || { echo "exercise_vs_guest: no $testpmd, no net figures" >&2; exit 0; }
declare -A tx rx gb lost p50
cpu_us=""
for ((r = 0; r < rounds; r++)); do
  dir=$work/net-$r
  mkdir -p "$dir"
  taskset -c 0 "$testpmd" --no-huge --no-pci -m 256 --no-shconf --file-prefix="vhsevg$$" \
    --lcores '0@0,1@0' --vdev "net_vhost0,iface=$dir/net.sock,queues=1" -- \
    --forward-mode=io --rxq=1 --txq=1 --nb-cores=1 --port-topology=loop \
    --total-num-mbufs=8192 --auto-start --stats-period=60 > "$dir/testpmd.log" 2>&1 &
  pids+=($!)
  wait_path "$dir/net.sock" 30 || { echo "exercise_vs_guest: testpmd did not start" >&2; tail "$dir/testpmd.log" >&2; exit 1; }
  # GNU time: the exerciser's own CPU time, which the load on the machine does not inflate.
  taskset -c 0 /usr/bin/time -f '%U %S' -o "$dir/cpu.txt" "$vhostscope" exercise --backend-connect "$dir/net.sock" --device net \
    --workload none --bench --bench-time "$seconds" --format json -o "$dir/report.json" \
    > "$dir/exercise.log" 2>&1 || { echo "exercise_vs_guest: net exercise failed" >&2; cat "$dir/exercise.log" "$dir/report.json" >&2; exit 1; }
  stop_all
  while read -r size t x g l p; do
    tx[$size]+=" $t"; rx[$size]+=" $x"; gb[$size]+=" $g"; lost[$size]+=" $l"; p50[$size]+=" $p"
    echo "round $r net $size B: TX $t pkt/s, RX $x pkt/s, $g Gbit/s, $l lost, p50 $p us" >&2
  done < <(jq -r '.bench[] | select(.queue_pair == 0) | "\(.frame_size) \(.tx_pps) \(.rx_pps) \(.rx_gbit_per_s) \(.lost) \(.latency_us.p50)"' "$dir/report.json")
  frames=$(jq '[.bench[].received] | add' "$dir/report.json")
  cpu_us+=" $(awk -v f="$frames" '{ printf "%.2f", ($1 + $2) * 1e6 / f }' "$dir/cpu.txt")"
done
echo "net: dpdk-testpmd io forwarding (--no-huge --no-pci, lcores on CPU 0), 1 queue pair, $rounds rounds x $seconds s per frame size, medians"
printf '%-7s %12s %12s %10s %12s %9s\n' frame "TX pkt/s" "RX pkt/s" "Gbit/s" "lost" "p50 us"
for size in 64 512 1518; do
  printf '%-7s %12.0f %12.0f %10.3f %12s %9.1f\n' "$size B" "$(median "${tx[$size]}")" \
    "$(median "${rx[$size]}")" "$(median "${gb[$size]}")" "$(median "${lost[$size]}")" "$(median "${p50[$size]}")"
done
echo "exerciser CPU per frame sent and received back (user + system, set-up included): $(median "$cpu_us") us (per round:$cpu_us)"
