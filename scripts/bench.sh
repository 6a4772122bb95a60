#!/usr/bin/env bash
# Relay benchmark: builds vhostscope and relay_bench in Release, then runs the benchmark with
# every process on CPU 0 (a cross-CPU wake-up costs more than the round trip being measured).
# Extra arguments go to relay_bench (--iterations N, --rounds R, --realtime, --no-vhostscope,
# --keep).
set -euo pipefail
cd "$(dirname "$0")/.."

build=${VHS_BENCH_BUILD_DIR:-build-release}
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DVHS_BUILD_GUI=OFF -DVHS_BUILD_TESTS=OFF >/dev/null
ninja -C "$build" -j2 vhostscope relay_bench

load=$(cut -d' ' -f1 /proc/loadavg)
if awk "BEGIN{exit !($load > 1.0)}"; then
  echo "bench: load average $load: other work shares CPU 0; numbers will be noisy (try --realtime)" >&2
fi

# relay_bench pins itself too; taskset also covers anything it starts before doing so.
exec taskset -c 0 "$build/bench/relay_bench" --vhostscope "$build/vhostscope" "$@"
