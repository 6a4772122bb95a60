# Shared by the benchmarks that start real peers (qemu-storage-daemon, a QEMU TCG guest,
# dpdk-testpmd) on CPU 0: the release build and guest image they need, the processes they
# started (killed by PID on exit, whatever the exit), waits with a timeout, and the test disk.
# Source it from the repository root after setting `build` and `bench_name`; it sets `guest`,
# `work` and `pids`.

# Builds vhostscope (Release, no GUI or tests) into $build when it is not there, and the guest.
rig_prepare() {
  if [ ! -x "$build/vhostscope" ]; then
    cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DVHS_BUILD_GUI=OFF -DVHS_BUILD_TESTS=OFF >/dev/null
    ninja -C "$build" -j2 vhostscope
  fi
  guest=${VHS_GUEST_DIR:-$build/guest}
  scripts/build-guest.sh "$guest" >/dev/null
  work=$(mktemp -d "/tmp/vhs-$bench_name-XXXXXX")
  pids=()
  trap rig_cleanup EXIT
}

rig_cleanup() {
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}

# Stops the processes of one leg, by PID, and forgets them.
stop_all() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  pids=()
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

# Waits up to $3 seconds for a line matching the extended regex $2 in file $1.
wait_line() {
  local i=0
  until grep -aqE "$2" "$1" 2>/dev/null; do
    i=$((i + 1))
    [ "$i" -gt $(($3 * 20)) ] && return 1
    sleep 0.05
  done
}

# A raw disk of size $2 (truncate's units) whose sector 0 holds the pattern the guest checks
# ("VHS-HOST sector 000000") before it measures.
make_disk() {
  { printf 'VHS-HOST sector 000000'; head -c 489 /dev/zero | tr '\0' '.'; printf '\n'; } > "$1"
  truncate -s "$2" "$1"
}

# Starts qemu-storage-daemon on CPU 0 exporting a fresh disk of size $2 as $1/disk.img at
# $1/be.sock, writable, and waits for its socket.
start_daemon() {
  make_disk "$1/disk.img" "$2"
  taskset -c 0 qemu-storage-daemon --blockdev "driver=file,node-name=f0,filename=$1/disk.img" \
    --export "type=vhost-user-blk,id=e0,node-name=f0,addr.type=unix,addr.path=$1/be.sock,writable=on" \
    > "$1/daemon.log" 2>&1 &
  pids+=($!)
  wait_path "$1/be.sock" 10 || { echo "$bench_name: daemon did not start" >&2; cat "$1/daemon.log" >&2; return 1; }
}

# Starts the TCG guest on CPU 0 with one vhost-user-blk queue on socket $2, running guest
# scenario $3 (scripts/guest/init) for $4 seconds, its serial console in $1/serial.log.
start_guest() {
  taskset -c 0 qemu-system-x86_64 -machine q35 -accel tcg -m 256 -smp 1 \
    -object memory-backend-memfd,id=mem,size=256M,share=on -numa node,memdev=mem \
    -chardev "socket,id=c0,path=$2" -device vhost-user-blk-pci,chardev=c0,num-queues=1 \
    -kernel "$guest/vmlinuz" -initrd "$guest/initramfs.cpio.gz" \
    -append "console=ttyS0 vhs.test=$3 vhs.seconds=$4 panic=-1" \
    -nodefaults -display none -serial "file:$1/serial.log" -no-reboot > "$1/qemu.log" 2>&1 &
  pids+=($!)
}
