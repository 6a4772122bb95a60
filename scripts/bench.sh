#!/usr/bin/env bash
# Relay, notification and ring-sampling benchmarks: builds vhostscope, relay_bench, notify_bench and
# ring_sample_bench in Release, then runs them with every process on CPU 0 (a cross-CPU wake-up
# costs more than the round trip being measured).
# Extra arguments go to relay_bench (--iterations N, --rounds R, --realtime, --no-vhostscope,
# --keep).
set -euo pipefail
cd "$(dirname "$0")/.."

build=${VHS_BENCH_BUILD_DIR:-build-release}
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DVHS_BUILD_GUI=OFF -DVHS_BUILD_TESTS=OFF >/dev/null
ninja -C "$build" -j2 vhostscope relay_bench notify_bench ring_sample_bench

load=$(cut -d' ' -f1 /proc/loadavg)
if awk "BEGIN{exit !($load > 1.0)}"; then
  echo "bench: load average $load: other work shares CPU 0; numbers will be noisy (try --realtime)" >&2
fi

# Ring sampling cost (bench/ring_sample_bench.cpp): ns per ring per sample, CPU share at 50 ms.
taskset -c 0 "$build/bench/ring_sample_bench"
# The benches pin themselves too; taskset also covers anything they start before doing so.
taskset -c 0 "$build/bench/relay_bench" --vhostscope "$build/vhostscope" "$@"
# Notification round trips with --interpose-notify (issue 4); NOTIFY_BENCH_ARGS e.g. "--realtime".
# shellcheck disable=SC2086
exec taskset -c 0 "$build/bench/notify_bench" --vhostscope "$build/vhostscope" ${NOTIFY_BENCH_ARGS:-}
