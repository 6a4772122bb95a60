#!/usr/bin/env bash
# How much a recorder in the path slows a real guest's I/O: QEMU (TCG) with vhost-user-blk on
# qemu-storage-daemon, the guest's own loop of 4 KiB O_DIRECT reads and writes (scenario "rate" of
# scripts/guest/init) measured three ways in one run — directly, through `vhostscope record`, and
# through `vhostscope record --interpose-notify` — with every process on CPU 0. Legs alternate for
# each round; the table shows the median I/Os per second and the ratio to the direct leg of the
# same run. Targets: >= 0.98 of direct with record, >= 0.90 with --interpose-notify.
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
  local sock=$dir/be.sock
  if [ "$leg" != direct ]; then
    local extra=()
    [ "$leg" = interpose ] && extra=(--interpose-notify)
    taskset -c 0 "$build/vhostscope" record --frontend-listen "$dir/fe.sock" \
      --backend-connect "$dir/be.sock" -w "$dir/capture.pcap" "${extra[@]}" > "$dir/record.log" 2>&1 &
    pids+=($!)
    wait_path "$dir/fe.sock" 10 || { echo "perturbation_bench: recorder did not start" >&2; return 1; }
    sock=$dir/fe.sock
  fi
  taskset -c 0 timeout $((seconds + 150)) qemu-system-x86_64 -machine q35 -accel tcg -m 256 -smp 1 \
    -object memory-backend-memfd,id=mem,size=256M,share=on -numa node,memdev=mem \
    -chardev "socket,id=c0,path=$sock" -device vhost-user-blk-pci,chardev=c0,num-queues=1 \
    -kernel "$guest/vmlinuz" -initrd "$guest/initramfs.cpio.gz" \
    -append "console=ttyS0 vhs.test=rate vhs.seconds=$seconds panic=-1" \
    -nodefaults -display none -serial "file:$dir/serial.log" -no-reboot > "$dir/qemu.log" 2>&1 || true
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  pids=()
  local line
  line=$(grep -a 'VHOSTSCOPE-GUEST: RATE' "$dir/serial.log" || true)
  if [ -z "$line" ]; then
    echo "perturbation_bench: leg $leg gave no rate; serial tail:" >&2
    tail -5 "$dir/serial.log" >&2
    return 1
  fi
  sed -E 's/.*ios=([0-9]+) centis=([0-9]+).*/\1 \2/' <<< "$line"
}

declare -A rates
for ((r = 0; r < rounds; r++)); do
  for leg in $legs; do
    read -r ios centis < <(run_leg "$leg" "$r")
    rate=$(awk -v i="$ios" -v c="$centis" 'BEGIN { printf "%.1f", i * 100 / c }')
    rates[$leg]="${rates[$leg]:-} $rate"
    echo "round $r $leg: $ios I/Os in $centis cs = $rate I/O/s" >&2
  done
done

median() { tr ' ' '\n' <<< "$1" | grep . | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
baseline=${legs%% *}
d=$(median "${rates[$baseline]}")
echo "perturbation_bench: $rounds rounds x $seconds s per leg, 4 KiB O_DIRECT reads+writes, all on CPU 0, load $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-38s %10s %10s   %s\n' leg "I/O/s" "x $baseline" "rounds"
for leg in $legs; do
  m=$(median "${rates[$leg]}")
  name=$leg
  [ "$leg" = record ] && name="vhostscope record"
  [ "$leg" = interpose ] && name="vhostscope record --interpose-notify"
  printf '%-38s %10s %10s   %s\n' "$name" "$m" "$(awk -v a="$m" -v b="$d" 'BEGIN { printf "%.3f", a / b }')" "${rates[$leg]# }"
done
[[ " $legs " == *" direct "* && " $legs " == *" record "* && " $legs " == *" interpose "* ]] || exit 0
rec=$(awk -v a="$(median "${rates[record]}")" -v b="$d" 'BEGIN { print (a / b >= 0.98) ? "met" : "NOT met" }')
int=$(awk -v a="$(median "${rates[interpose]}")" -v b="$d" 'BEGIN { print (a / b >= 0.90) ? "met" : "NOT met" }')
echo "target record >= 0.98 x direct: $rec; target --interpose-notify >= 0.90 x direct: $int"
