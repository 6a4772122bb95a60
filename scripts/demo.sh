#!/usr/bin/env bash
# The main job on a fresh machine: installs what is missing, builds, and inspects a shipped
# capture of a real hang (QEMU <-> qemu-storage-daemon with the back-end stopped mid-I/O).
# Opens the GUI on it too when a display is available.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
cmake -S . -B build -G Ninja >/dev/null
# The GUI target exists only when its libraries were found. The target list is read whole before
# it is searched: `ninja ... | grep -q` would let grep exit at the first match, ninja die of SIGPIPE
# and, under pipefail, the check fail exactly when the target is there.
targets=(vhostscope)
all_targets=$(ninja -C build -t targets all 2>/dev/null || true)
if grep -q '^vhostscope-gui:' <<<"$all_targets"; then targets+=(vhostscope-gui); fi
ninja -C build -j2 "${targets[@]}"

capture=${1:-captures/samples/blk-hang.pcap}
build/vhostscope summary "$capture"
if [ -n "${DISPLAY:-}" ] && [ -x build/vhostscope-gui ]; then
  exec build/vhostscope-gui "$capture"
fi
