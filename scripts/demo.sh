#!/usr/bin/env bash
# The main job on a fresh machine: installs what is missing, builds, and inspects a shipped
# capture of a real hang (QEMU <-> qemu-storage-daemon with the back-end stopped mid-I/O).
# Opens the GUI on it too when a display is available.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
cmake -S . -B build -G Ninja >/dev/null
ninja -C build -j2 vhostscope $(ninja -C build -t targets all 2>/dev/null | grep -q '^vhostscope-gui:' && echo vhostscope-gui)

capture=${1:-captures/samples/blk-hang.pcap}
build/vhostscope summary "$capture"
if [ -n "${DISPLAY:-}" ] && [ -x build/vhostscope-gui ]; then
  exec build/vhostscope-gui "$capture"
fi
