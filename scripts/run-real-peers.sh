#!/usr/bin/env bash
# Runs one end-to-end scenario with real peers: QEMU (TCG) <-> vhostscope record <-> back-end
# (qemu-storage-daemon for blk/hang, virtiofsd for fs), boots the test guest, checks the guest's
# result line and the host side, and leaves the capture in OUTDIR/capture.pcap.
#
# usage: scripts/run-real-peers.sh [--direct | --client-mode] [--vhostscope BIN] [--guest DIR]
#                                  [--timeout SEC] SCENARIO OUTDIR
#   SCENARIO  blk   read a host pattern from /dev/vda, write + read back 64 sectors, power off
#             fs    mount virtiofs, read host.txt, write guest.txt, power off
#             hang  continuous direct I/O; the back-end is SIGSTOPped mid-I/O, then QEMU is asked
#                   to quit over QMP: its GET_VRING_BASE is never answered (QEMU blocks)
#   --direct       QEMU talks to the back-end directly (no vhostscope, no capture)
#   --interpose-notify  vhostscope relays every kick and call itself (record --interpose-notify)
#                  and follows the rings' used entries at each of them
#   --client-mode  QEMU listens (chardev server=on) and vhostscope connects to it
#                  (--frontend-connect); vhostscope listens for the back-end (--backend-listen).
#                  qemu-storage-daemon and virtiofsd only listen, so a second vhostscope
#                  (--frontend-connect to the first, --backend-connect to the real back-end)
#                  stands in for a back-end that connects as a client; it records bridge.pcap.
# Prints one "run-real-peers: PASS|FAIL SCENARIO ..." line; exit 0 only when everything passed.
# Every process it starts is bounded by a timeout and stopped by PID.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)

direct=0
client_mode=0
interpose=0
vhostscope=$repo/build/vhostscope
guest_dir=$repo/build/guest
guest_timeout=150
while [ $# -gt 0 ]; do
  case "$1" in
    --direct) direct=1; shift ;;
    --client-mode) client_mode=1; shift ;;
    --interpose-notify) interpose=1; shift ;;
    --vhostscope) vhostscope=$2; shift 2 ;;
    --guest) guest_dir=$2; shift 2 ;;
    --timeout) guest_timeout=$2; shift 2 ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"; exit 0 ;;
    -*) echo "run-real-peers: unknown option $1" >&2; exit 2 ;;
    *) break ;;
  esac
done
[ $# -eq 2 ] || { echo "usage: run-real-peers.sh [options] blk|fs|hang OUTDIR" >&2; exit 2; }
scenario=$1
out=$2
case "$scenario" in blk|fs|hang) ;; *) echo "run-real-peers: unknown scenario '$scenario'" >&2; exit 2 ;; esac
mkdir -p "$out"
out=$(cd "$out" && pwd)
rm -f "$out"/{capture,bridge}.pcap "$out"/{serial,qemu,qmp,backend,proxy,bridge,build-guest}.log \
  "$out"/result.txt

started=$(date +%s%N)
elapsed() { echo "$(( ($(date +%s%N) - started) / 1000000 ))" | awk '{ printf "%.1f s", $1 / 1000 }'; }

# Unix socket paths are limited to 108 bytes, so they live in a short private folder.
sockdir=$(mktemp -d /tmp/vhs-peers.XXXXXX)
pids=()  # every background process, stopped by PID in cleanup

stop_pid() {  # TERM, then KILL after 5 s; CONT in case it was stopped on purpose
  local pid=$1 deadline=$((SECONDS + 5))
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null
  kill -CONT "$pid" 2>/dev/null
  while [ "$SECONDS" -lt "$deadline" ]; do
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  return 0
}

cleanup() {
  local pid
  for pid in "${pids[@]}"; do stop_pid "$pid"; done
  rm -rf "$sockdir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

result() {  # result PASS|FAIL message...
  local verdict=$1; shift
  local line="run-real-peers: $verdict $scenario ($(elapsed))${*:+: $*}"
  echo "$line" | tee "$out/result.txt"
  [ "$verdict" = PASS ] && exit 0
  exit 1
}
fail() { result FAIL "$@"; }

# Waits are bounded by wall-clock deadlines (bash's SECONDS), not by counting sleeps: on a loaded
# machine each poll takes longer than its sleep.
wait_for_socket() {  # path pid seconds
  local deadline=$((SECONDS + $3))
  while [ "$SECONDS" -lt "$deadline" ]; do
    [ -S "$1" ] && return 0
    kill -0 "$2" 2>/dev/null || return 1
    sleep 0.1
  done
  [ -S "$1" ]
}

# ---- guest ------------------------------------------------------------------------------------
"$here/build-guest.sh" "$guest_dir" > "$out/build-guest.log" 2>&1 ||
  fail "cannot build the test guest (see $out/build-guest.log): $(tail -n1 "$out/build-guest.log")"
for f in vmlinuz initramfs.cpio.gz; do
  [ -s "$guest_dir/$f" ] || fail "guest file $guest_dir/$f missing"
done

# ---- back-end ---------------------------------------------------------------------------------
backend_sock=$sockdir/backend.sock
if [ "$scenario" = fs ]; then
  mkdir -p "$out/share"
  rm -f "$out/share/guest.txt"
  echo "vhostscope virtiofs host file" > "$out/share/host.txt"
  # QEMU 7.2's C virtiofsd: -o source= names the shared folder. Its default sandbox
  # (namespace: unshare mount/pid/net + pivot_root) needs root/CAP_SYS_ADMIN, which we have.
  /usr/lib/qemu/virtiofsd --socket-path="$backend_sock" -o source="$out/share" -o cache=none \
    > "$out/backend.log" 2>&1 &
else
  # 8 MiB raw image; sectors 0..2047 hold "VHS-HOST sector NNNNNN" padded to 512 bytes, which
  # scripts/guest/init checks; the guest writes "VHS-GUEST sector NNNNNN" into 4096..4159.
  rm -f "$out/disk.img"
  truncate -s 8M "$out/disk.img"
  awk 'BEGIN { for (s = 0; s < 2048; s++) { l = sprintf("VHS-HOST sector %06d", s); printf "%s", l;
               for (i = length(l); i < 511; i++) printf "."; printf "\n" } }' |
    dd of="$out/disk.img" conv=notrunc status=none
  qemu-storage-daemon \
    --blockdev driver=file,node-name=file0,filename="$out/disk.img" \
    --export type=vhost-user-blk,id=exp0,node-name=file0,addr.type=unix,addr.path="$backend_sock",writable=on \
    > "$out/backend.log" 2>&1 &
fi
backend_pid=$!
pids+=("$backend_pid")
wait_for_socket "$backend_sock" "$backend_pid" 10 ||
  fail "back-end did not create $backend_sock within 10 s: $(tail -n2 "$out/backend.log")"

# ---- vhostscope and QEMU -----------------------------------------------------------------------
[ "$direct" = 1 ] && [ "$client_mode" = 1 ] && fail "--direct and --client-mode exclude each other"
if [ "$direct" = 0 ]; then
  [ -x "$vhostscope" ] || fail "vhostscope binary $vhostscope not found (build it, or pass --direct)"
fi
proxy_pid=
bridge_pid=
# virtiofsd offers nothing that names the device (no CONFIG), so say it: ring samples then
# describe FUSE requests; blk is inferred from GET_CONFIG.
# Ring sampling every 50 ms: the captures then also show the virtqueues (in-flight work at a hang).
device_option=(--sample-interval 50)
[ "$scenario" = fs ] && device_option+=(--device fs)
[ "$interpose" = 1 ] && device_option+=(--interpose-notify)

start_proxy() {  # QEMU connects to vhostscope, vhostscope connects to the back-end
  qemu_sock=$sockdir/vhostscope.sock
  "$vhostscope" record --frontend-listen "$qemu_sock" --backend-connect "$backend_sock" \
    "${device_option[@]}" -w "$out/capture.pcap" > "$out/proxy.log" 2>&1 &
  proxy_pid=$!
  pids+=("$proxy_pid")
  wait_for_socket "$qemu_sock" "$proxy_pid" 10 ||
    fail "vhostscope did not listen on $qemu_sock within 10 s: $(tail -n2 "$out/proxy.log")"
}

start_client_mode_proxies() {  # after QEMU listens on $qemu_sock
  local proxy_backend_sock=$sockdir/vhostscope-backend.sock
  wait_for_socket "$qemu_sock" "$qemu_pid" 10 ||
    fail "QEMU did not listen on $qemu_sock within 10 s: $(tail -n2 "$out/qemu.log")"
  "$vhostscope" record --frontend-connect "$qemu_sock" --backend-listen "$proxy_backend_sock" \
    "${device_option[@]}" -w "$out/capture.pcap" > "$out/proxy.log" 2>&1 &
  proxy_pid=$!
  pids+=("$proxy_pid")
  wait_for_socket "$proxy_backend_sock" "$proxy_pid" 10 ||
    fail "vhostscope did not listen on $proxy_backend_sock within 10 s: $(tail -n2 "$out/proxy.log")"
  # The stand-in client back-end: connects to the proxy as a back-end would, relays to the real one.
  "$vhostscope" record --frontend-connect "$proxy_backend_sock" --backend-connect "$backend_sock" \
    -w "$out/bridge.pcap" > "$out/bridge.log" 2>&1 &
  bridge_pid=$!
  pids+=("$bridge_pid")
}

qemu_sock=$backend_sock
chardev_opts=
if [ "$client_mode" = 1 ]; then
  qemu_sock=$sockdir/qemu.sock
  # server=on (wait=on by default): QEMU waits for vhostscope before it starts the guest.
  chardev_opts=,server=on
elif [ "$direct" = 0 ]; then
  start_proxy
fi

if [ "$scenario" = fs ]; then
  device=(-device vhost-user-fs-pci,chardev=c0,tag=vhsfs)
else
  device=(-device vhost-user-blk-pci,chardev=c0,num-queues=1)
fi
# QMP over a pair of FIFOs (QEMU opens them O_RDWR, so nothing blocks): lets the hang scenario
# ask QEMU to quit without needing a unix-socket client on the host.
mkfifo "$sockdir/qmp.in" "$sockdir/qmp.out"
qemu-system-x86_64 -machine q35 -accel tcg -m 256 -smp 1 \
  -object memory-backend-memfd,id=mem,size=256M,share=on -numa node,memdev=mem \
  -chardev socket,id=c0,path="$qemu_sock$chardev_opts" "${device[@]}" \
  -kernel "$guest_dir/vmlinuz" -initrd "$guest_dir/initramfs.cpio.gz" \
  -append "console=ttyS0 vhs.test=$scenario panic=-1" \
  -nodefaults -display none -serial file:"$out/serial.log" -no-reboot \
  -chardev pipe,id=qmp0,path="$sockdir/qmp" -mon chardev=qmp0,mode=control \
  > "$out/qemu.log" 2>&1 &
qemu_pid=$!
pids+=("$qemu_pid")
cat "$sockdir/qmp.out" > "$out/qmp.log" 2>/dev/null &
pids+=("$!")
[ "$client_mode" = 1 ] && start_client_mode_proxies

# Waits up to $2 s for a line matching $1 in the serial log; 1 if QEMU exits first.
wait_for_serial() {
  local deadline=$((SECONDS + $2))
  while [ "$SECONDS" -lt "$deadline" ]; do
    grep -qE "$1" "$out/serial.log" 2>/dev/null && return 0
    kill -0 "$qemu_pid" 2>/dev/null || { grep -qE "$1" "$out/serial.log" 2>/dev/null; return; }
    sleep 0.2
  done
  return 1
}
wait_for_exit() {  # pid seconds
  local deadline=$((SECONDS + $2))
  while [ "$SECONDS" -lt "$deadline" ]; do
    kill -0 "$1" 2>/dev/null || return 0
    sleep 0.1
  done
  ! kill -0 "$1" 2>/dev/null
}
# GET_VRING_BASE requests for queue 0 in the capture so far: header {11, flags 0x1, size 8} and
# payload {index 0, num 0}, matched on byte boundaries of a hex dump.
count_get_vring_base() {
  [ -s "$out/capture.pcap" ] || { echo 0; return; }
  od -An -tx1 -v "$out/capture.pcap" | tr -s ' \n' '  ' |
    grep -o ' 0b 00 00 00 01 00 00 00 08 00 00 00 00 00 00 00 00 00 00 00' | wc -l
}
guest_line() { grep -aoE 'VHOSTSCOPE-GUEST: (PASS|FAIL.*)' "$out/serial.log" 2>/dev/null | head -n1 | tr -d '\r'; }

stop_proxy() {  # SIGTERM so the capture is flushed; fails the run if it does not stop cleanly
  [ -n "$proxy_pid" ] || return 0
  kill -TERM "$proxy_pid" 2>/dev/null
  if ! wait_for_exit "$proxy_pid" 10; then
    fail "vhostscope did not exit within 10 s of SIGTERM"
  fi
  wait "$proxy_pid"
  local rc=$?
  [ "$rc" = 0 ] || fail "vhostscope record exited with $rc: $(tail -n2 "$out/proxy.log")"
  [ -s "$out/capture.pcap" ] || fail "vhostscope left no capture at $out/capture.pcap"
  [ -n "$bridge_pid" ] || return 0
  kill -TERM "$bridge_pid" 2>/dev/null
  wait_for_exit "$bridge_pid" 10 || fail "the bridge vhostscope did not exit within 10 s of SIGTERM"
  wait "$bridge_pid"
  rc=$?
  [ "$rc" = 0 ] || fail "bridge vhostscope record exited with $rc: $(tail -n2 "$out/bridge.log")"
}

if [ "$scenario" = hang ]; then
  wait_for_serial 'VHOSTSCOPE-GUEST: (HANG-LOOP-RUNNING|FAIL)' "$guest_timeout" ||
    fail "guest never started its I/O loop (QEMU: $(tail -n2 "$out/qemu.log"))"
  line=$(guest_line)
  [ -z "$line" ] || fail "guest: ${line#VHOSTSCOPE-GUEST: }"
  sleep 1
  # Freeze the back-end mid-I/O: the guest's requests stay in the ring, unanswered.
  kill -STOP "$backend_pid"
  sleep 1
  # quit stops the VM, which stops the vhost device: QEMU sends GET_VRING_BASE and blocks on a
  # reply that never comes.
  stops_before=$(count_get_vring_base)
  printf '%s\n' '{"execute":"qmp_capabilities"}' '{"execute":"quit"}' > "$sockdir/qmp.in"
  if [ -n "$proxy_pid" ]; then
    # The recorder flushes every few ms: wait until the new GET_VRING_BASE is in the capture, so a
    # slow machine cannot end the capture before QEMU got that far.
    deadline=$((SECONDS + 30))
    while [ "$(count_get_vring_base)" -le "$stops_before" ]; do
      [ "$SECONDS" -lt "$deadline" ] || fail "QEMU sent no GET_VRING_BASE within 30 s of quit"
      kill -0 "$qemu_pid" 2>/dev/null || fail "QEMU exited after quit without a GET_VRING_BASE"
      sleep 0.2
    done
  fi
  if wait_for_exit "$qemu_pid" 3; then
    fail "QEMU exited after quit although the back-end was stopped (expected it to block)"
  fi
  # QEMU is blocked in GET_VRING_BASE; stop the proxy first so the capture ends right there.
  stop_proxy
  wait_for_exit "$qemu_pid" 5 || true
  stop_pid "$qemu_pid"
  stop_pid "$backend_pid"
  result PASS "QEMU blocked after quit with the back-end stopped"
fi

wait_for_serial 'VHOSTSCOPE-GUEST: (PASS|FAIL)' "$guest_timeout" ||
  fail "no guest result within ${guest_timeout} s (QEMU: $(tail -n2 "$out/qemu.log" | tr '\n' ' '))"
line=$(guest_line)
wait_for_exit "$qemu_pid" 30 || fail "QEMU did not exit within 30 s of the guest result"
wait "$qemu_pid"
qemu_rc=$?
[ "$line" = "VHOSTSCOPE-GUEST: PASS" ] || fail "guest: ${line#VHOSTSCOPE-GUEST: }"
[ "$qemu_rc" = 0 ] || fail "QEMU exited with $qemu_rc: $(tail -n2 "$out/qemu.log")"

# Host side: what the guest wrote must be there.
if [ "$scenario" = fs ]; then
  got=$(cat "$out/share/guest.txt" 2>/dev/null)
  [ "$got" = "vhostscope virtiofs guest file" ] || fail "share/guest.txt holds '$got'"
else
  for s in 4096 4127 4159; do
    want=$(printf 'VHS-GUEST sector %06d' "$s")
    got=$(dd if="$out/disk.img" bs=512 skip="$s" count=1 status=none | head -c 23)
    [ "$got" = "$want" ] || fail "disk.img sector $s holds '$got', expected '$want'"
  done
  got=$(dd if="$out/disk.img" bs=512 skip=2047 count=1 status=none | head -c 22)
  [ "$got" = "VHS-HOST sector 002047" ] || fail "disk.img sector 2047 was overwritten: '$got'"
fi

stop_proxy
result PASS
