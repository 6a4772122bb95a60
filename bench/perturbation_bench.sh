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

if [ ! -x "$build/vhostscope" ]; then
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DVHS_BUILD_GUI=OFF -DVHS_BUILD_TESTS=OFF >/dev/null
  ninja -C "$build" -j2 vhostscope
fi
guest=${VHS_GUEST_DIR:-$build/guest}
scripts/build-guest.sh "$guest" >/dev/null

work=$(mktemp -d /tmp/vhs-perturb-XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# The raw disk the guest checks: "VHS-HOST sector 000000" in sector 0, 8 MiB in all.
make_disk() {
  { printf 'VHS-HOST sector 000000'; head -c 489 /dev/zero | tr '\0' '.'; printf '\n'; } > "$1"
  truncate -s 8M "$1"
}

# Waits up to $2 seconds for path $1 to exist.
wait_path() {
  local i=0
  while [ ! -e "$1" ]; do
    i=$((i + 1))
    [ "$i" -gt $(($2 * 20)) ] && return 1
    sleep 0.05
  done
}

# One leg: prints "ios centis" from the guest's RATE line.
run_leg() {
  local leg=$1 dir=$work/$1-$2
  mkdir -p "$dir"
  make_disk "$dir/disk.img"
  pids=()
  taskset -c 0 qemu-storage-daemon --blockdev "driver=file,node-name=f0,filename=$dir/disk.img" \
    --export "type=vhost-user-blk,id=e0,node-name=f0,addr.type=unix,addr.path=$dir/be.sock,writable=on" \
    > "$dir/daemon.log" 2>&1 &
  pids+=($!)
  wait_path "$dir/be.sock" 10 || { echo "perturbation_bench: daemon did not start" >&2; return 1; }
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
  taskset -c 0 qemu-system-x86_64 -machine q35 -accel tcg -m 256 -smp 1 \
    -object memory-backend-memfd,id=mem,size=256M,share=on -numa node,memdev=mem \
    -chardev "socket,id=c0,path=$sock" -device vhost-user-blk-pci,chardev=c0,num-queues=1 \
    -kernel "$guest/vmlinuz" -initrd "$guest/initramfs.cpio.gz" \
    -append "console=ttyS0 vhs.test=rate vhs.seconds=$seconds panic=-1" \
    -nodefaults -display none -serial "file:$dir/serial.log" -no-reboot > "$dir/qemu.log" 2>&1 &
  local qemu=$!
  pids+=("$qemu")
  # CPU time of every process in the path while the guest measures: on one saturated CPU the
  # I/O rate is what this CPU time per I/O allows, however much other load shares the CPU.
  wait_serial "$dir/serial.log" 'VHOSTSCOPE-GUEST: RATE-START' 150 || { echo "perturbation_bench: guest did not start its loop" >&2; tail -5 "$dir/serial.log" >&2; return 1; }
  local cpu0 rec0=0
  cpu0=$(cpu_ns "${pids[@]}")
  [ -n "$recorder" ] && rec0=$(cpu_ns "$recorder")
  wait_serial "$dir/serial.log" 'VHOSTSCOPE-GUEST: RATE ' $((seconds + 60)) || { echo "perturbation_bench: no rate from the guest" >&2; return 1; }
  local cpu1 rec1=0
  cpu1=$(cpu_ns "${pids[@]}")
  [ -n "$recorder" ] && rec1=$(cpu_ns "$recorder")
  local i=0
  while kill -0 "$qemu" 2>/dev/null && [ "$i" -lt 200 ]; do sleep 0.1; i=$((i + 1)); done
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  pids=()
  local line
  line=$(grep -a 'VHOSTSCOPE-GUEST: RATE ' "$dir/serial.log")
  echo "$(sed -E 's/.*ios=([0-9]+) centis=([0-9]+).*/\1 \2/' <<< "$line") $((cpu1 - cpu0)) $((rec1 - rec0))"
}

# Waits up to $3 seconds for a line containing $2 in file $1.
wait_serial() {
  local i=0
  until grep -aq "$2" "$1" 2>/dev/null; do
    i=$((i + 1))
    [ "$i" -gt $(($3 * 20)) ] && return 1
    sleep 0.05
  done
}

# Nanoseconds of CPU used so far by every thread of the given processes (scheduler accounting).
cpu_ns() {
  local total=0 p t ns
  for p in "$@"; do
    for t in /proc/"$p"/task/*/schedstat; do
      read -r ns _ < "$t" 2>/dev/null || continue
      total=$((total + ns))
    done
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
