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
for n in $(seq $((300 + $$ % 300)) $((330 + $$ % 300))); do
  [ -e "/tmp/.X$n-lock" ] && continue
  Xvfb ":$n" -screen 0 1600x1000x24 -nolisten tcp >/dev/null 2>&1 &
  xvfb_pid=$!
  for _ in $(seq 100); do [ -e "/tmp/.X11-unix/X$n" ] && break; sleep 0.1; done
  if [ -e "/tmp/.X11-unix/X$n" ] && kill -0 "$xvfb_pid" 2>/dev/null; then display=":$n"; break; fi
  kill "$xvfb_pid" 2>/dev/null || true
  xvfb_pid=""
done
[ -n "$display" ] || { echo "gui-bench: could not start Xvfb" >&2; exit 1; }
DISPLAY=$display LIBGL_ALWAYS_SOFTWARE=1 "$build/bench/gui_bench" --messages "${MESSAGES:-1000000}" "$@"
