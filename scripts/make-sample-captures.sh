#!/usr/bin/env bash
# Regenerates the shipped sample captures (captures/samples/*.pcap) by running the real-peer scenarios
# through vhostscope record. Needs a built vhostscope and everything scripts/setup.sh installs.
#
# usage: scripts/make-sample-captures.sh [BUILD_DIR]    (default: <repo>/build)
#   captures/samples/blk-boot.pcap         QEMU <-> qemu-storage-daemon, guest boots, reads/writes, powers off
#   captures/samples/virtiofs-session.pcap QEMU <-> virtiofsd, guest mounts, reads/writes, powers off
#   captures/samples/blk-hang.pcap         back-end SIGSTOPped mid-I/O, QEMU quit: GET_VRING_BASE unanswered
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
build=${1:-$repo/build}
build=$(cd "$build" && pwd)
work=$build/sample-captures

declare -A names=([blk]=blk-boot [fs]=virtiofs-session [hang]=blk-hang)
for scenario in blk fs hang; do
  "$here/run-real-peers.sh" --vhostscope "$build/vhostscope" --guest "$build/guest" \
    "$scenario" "$work/$scenario"
  cp "$work/$scenario/capture.pcap" "$repo/captures/samples/${names[$scenario]}.pcap"
  chmod 0644 "$repo/captures/samples/${names[$scenario]}.pcap"
  echo "make-sample-captures: captures/samples/${names[$scenario]}.pcap ($(stat -c %s "$work/$scenario/capture.pcap") bytes)"
done
