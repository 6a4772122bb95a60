#!/usr/bin/env bash
# GUI benchmark: builds gen_capture, vhostscope-gui and gui_bench, starts a private Xvfb (own
# display number, stopped by PID) and runs bench/gui_bench on a generated capture of
# ${MESSAGES:-1000000} messages: ingest, indexes, filters, and per-frame times of every view.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build}
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
ninja -C "$build" -j2 gen_capture vhostscope-gui gui_bench

display=""
xvfb_pid=""
cleanup() { [ -n "$xvfb_pid" ] && kill "$xvfb_pid" 2>/dev/null && wait "$xvfb_pid" 2>/dev/null || true; }
trap cleanup EXIT
# shellcheck source=scripts/xvfb-lib.sh
. scripts/xvfb-lib.sh  # the scripts run from the repository root (cd above)
start_xvfb gui-bench 1600x1000
DISPLAY=$display LIBGL_ALWAYS_SOFTWARE=1 "$build/bench/gui_bench" --messages "${MESSAGES:-1000000}" "$@"
