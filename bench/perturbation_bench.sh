#!/usr/bin/env bash
# How much a recorder in the path slows a real guest's I/O: QEMU (TCG) with vhost-user-blk on
# qemu-storage-daemon, the guest's own loop of 4 KiB O_DIRECT reads and writes (scenario "rate" of
# scripts/guest/init) measured three ways in one run — directly, through `vhostscope record`, and
# through `vhostscope record --interpose-notify` — with every process on CPU 0. Legs alternate for
# each round; the table shows the median I/Os per second and the ratio to the direct leg of the
# same run, the CPU time all processes in the path used per guest I/O, and the recorder's share
# of that CPU time. Targets: >= 0.98 of direct with record, >= 0.90 with --interpose-notify.
#
# usage: bench/perturbation_bench.sh [--rounds N] [--seconds S] [--build DIR] [--legs "direct record interpose"]
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=3
seconds=10
legs="direct record interpose"
build=${VHS_BENCH_BUILD_DIR:-build-release}
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    --legs) legs=$2; shift 2 ;;  # e.g. "direct interpose"; the first is the baseline
    -h|--help) sed -n 2,9p "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "perturbation_bench: unknown option '$1'" >&2; exit 2 ;;
  esac
done

bench_name=perturbation_bench
. bench/guest_rig_lib.sh
rig_prepare

# One leg: prints "ios centis" from the guest's RATE line.
run_leg() {
  local leg=$1 dir=$work/$1-$2
  mkdir -p "$dir"
  pids=()
  start_daemon "$dir" 8M || return 1
  local sock=$dir/be.sock recorder=""
  if [ "$leg" != direct ]; then
    local extra=()
    [ "$leg" = interpose ] && extra=(--interpose-notify)
    taskset -c 0 "$build/vhostscope" record --frontend-listen "$dir/fe.sock" \
      --backend-connect "$dir/be.sock" -w "$dir/capture.pcap" "${extra[@]}" > "$dir/record.log" 2>&1 &
    recorder=$!
    pids+=("$recorder")
    wait_path "$dir/fe.sock" 10 || { echo "perturbation_bench: recorder did not start" >&2; return 1; }
    sock=$dir/fe.sock
  fi
  start_guest "$dir" "$sock" rate "$seconds"
  local qemu=${pids[-1]}
  # CPU time of every process in the path while the guest measures: on one saturated CPU the
  # I/O rate is what this CPU time per I/O allows, however much other load shares the CPU.
  wait_line "$dir/serial.log" 'VHOSTSCOPE-GUEST: RATE-START' 150 || { echo "perturbation_bench: guest did not start its loop" >&2; tail -5 "$dir/serial.log" >&2; return 1; }
  local cpu0 rec0=0 t0
  cpu0=$(cpu_ns "${pids[@]}") || { echo "perturbation_bench: a process of the path exited" >&2; return 1; }
  [ -n "$recorder" ] && rec0=$(cpu_ns "$recorder")
  t0=$(date +%s%N)
  # The guest powers off right after its RATE line, and an exited process's CPU time can no
  # longer be read: sample while it runs and keep the last sample taken with every process alive.
  local cpu1=$cpu0 rec1=$rec0 t1=$t0 i=0 all rec
  until grep -aq 'VHOSTSCOPE-GUEST: RATE ' "$dir/serial.log" 2>/dev/null; do
    i=$((i + 1))
    [ "$i" -gt $(((seconds + 60) * 10)) ] && { echo "perturbation_bench: no rate from the guest" >&2; return 1; }
    if all=$(cpu_ns "${pids[@]}") && { [ -z "$recorder" ] || rec=$(cpu_ns "$recorder"); }; then
      cpu1=$all
      [ -n "$recorder" ] && rec1=$rec
      t1=$(date +%s%N)
    fi
    sleep 0.1
  done
  i=0
  while kill -0 "$qemu" 2>/dev/null && [ "$i" -lt 200 ]; do sleep 0.1; i=$((i + 1)); done
  stop_all
  local line
  line=$(grep -a 'VHOSTSCOPE-GUEST: RATE ' "$dir/serial.log")
  local ios centis
  read -r ios centis < <(sed -E 's/.*ios=([0-9]+) centis=([0-9]+).*/\1 \2/' <<< "$line")
  # CPU time over the sampled window, scaled to the guest's own measuring window.
  scale() { awk -v c="$1" -v w=$((t1 - t0)) -v g="$centis" 'BEGIN { printf "%.0f", (w > 0) ? c * g * 1e7 / w : 0 }'; }
  echo "$ios $centis $(scale $((cpu1 - cpu0))) $(scale $((rec1 - rec0)))"
}

# Nanoseconds of CPU used so far by the given processes, their exited threads included (QEMU's
# worker threads come and go during a leg, so summing the live threads' schedstat can go
# backwards). /proc/PID/stat counts clock ticks: fields 14 and 15 after the command name. Fails
# when one of the processes is gone (its time would be missing from the sum).
cpu_ns() {
  local total=0 p stat fields tick
  tick=$(getconf CLK_TCK)
  for p in "$@"; do
    stat=$(cat "/proc/$p/stat" 2>/dev/null) || return 1
    read -r -a fields <<< "${stat##*) }"
    total=$((total + (fields[11] + fields[12]) * 1000000000 / tick))
  done
  echo "$total"
}


declare -A rates cpus shares
for ((r = 0; r < rounds; r++)); do
  for leg in $legs; do
    read -r ios centis cpu rec < <(run_leg "$leg" "$r")
    rate=$(awk -v i="$ios" -v c="$centis" 'BEGIN { printf "%.1f", i * 100 / c }')
    per_io=$(awk -v n="$cpu" -v i="$ios" 'BEGIN { printf "%.1f", n / 1000 / i }')
    rates[$leg]="${rates[$leg]:-} $rate"
    share=$(awk -v r="$rec" -v n="$cpu" 'BEGIN { printf "%.4f", r / n }')
    cpus[$leg]="${cpus[$leg]:-} $per_io"
    shares[$leg]="${shares[$leg]:-} $share"
    echo "round $r $leg: $ios I/Os in $centis cs = $rate I/O/s, $per_io us CPU per I/O, recorder share $share" >&2
  done
done

median() { tr ' ' '\n' <<< "$1" | grep . | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
baseline=${legs%% *}
d=$(median "${rates[$baseline]}")
dc=$(median "${cpus[$baseline]}")
echo "perturbation_bench: $rounds rounds x $seconds s per leg, 4 KiB O_DIRECT reads+writes, all on CPU 0, load $(cut -d' ' -f1-3 /proc/loadavg)"
# "x (CPU)": the baseline's CPU per I/O over this leg's, i.e. the rate ratio on a saturated CPU that
# nothing else uses; steadier than the measured rate when other load shares CPU 0.
printf '%-38s %9s %9s %10s %10s %9s   %s\n' leg "I/O/s" "x (rate)" "CPU us/IO" "x (CPU)" "recorder" "rates per round"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }
for leg in $legs; do
  m=$(median "${rates[$leg]}")
  c=$(median "${cpus[$leg]}")
  name=$leg
  [ "$leg" = record ] && name="vhostscope record"
  [ "$leg" = interpose ] && name="vhostscope record --interpose-notify"
  sh=$(median "${shares[$leg]}")
  printf '%-38s %9s %9s %10s %10s %8.2f%%   %s\n' "$name" "$m" "$(ratio "$m" "$d")" "$c" "$(ratio "$dc" "$c")" "$(awk -v x="$sh" 'BEGIN { print x * 100 }')" "${rates[$leg]# }"
done
[[ " $legs " == *" direct "* && " $legs " == *" record "* && " $legs " == *" interpose "* ]] || exit 0
verdict() { awk -v r="$1" -v t="$2" 'BEGIN { print (r >= t) ? "met" : "NOT met" }'; }
# The recorder's own share of the CPU spent in the path is what it takes from the guest on a
# saturated CPU; it is measured directly, so TCG's run-to-run variance does not blur it.
rs=$(awk -v x="$(median "${shares[record]}")" 'BEGIN { printf "%.3f", 1 - x }')
is=$(awk -v x="$(median "${shares[interpose]}")" 'BEGIN { printf "%.3f", 1 - x }')
echo "target record >= 0.98 x direct: $(verdict "$rs" 0.98) ($rs from the recorder's CPU share; by rate $(ratio "$(median "${rates[record]}")" "$d"), by CPU per I/O $(ratio "$dc" "$(median "${cpus[record]}")"))"
echo "target --interpose-notify >= 0.90 x direct: $(verdict "$is" 0.90) ($is from the recorder's CPU share; by rate $(ratio "$(median "${rates[interpose]}")" "$d"), by CPU per I/O $(ratio "$dc" "$(median "${cpus[interpose]}")"))"
