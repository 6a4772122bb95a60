#!/usr/bin/env bash
# Installs every Debian package vhostscope needs (build, tests, GUI, real-peer tests).
# Idempotent and quiet when everything is already present.
set -euo pipefail

packages=(
  # build and unit tests
  cmake ninja-build g++ pkg-config libfmt-dev libpcap-dev libgtest-dev nlohmann-json3-dev
  libexpat1-dev  # check_cli_test parses the JUnit XML of `vhostscope check`
  # GUI and its render test under a virtual X server with Mesa
  libimgui-dev libglfw3-dev libgl-dev libgl1-mesa-dri xvfb x11-apps imagemagick
  libpng-dev  # screenshots (vhostscope-gui --screenshot) are PNG written by libpng
  fonts-dejavu-core  # readable GUI font; the GUI falls back to ImGui's built-in one without it
  # real peers for end-to-end tests and for building the tiny test guest
  qemu-system-x86 qemu-system-common busybox-static cpio kmod
  # vhost-user-net back-end for the net real-peer test: dpdk-testpmd (in dpdk-dev) with the
  # vhost PMD and the ring mempool driver it loads as plugins
  dpdk-dev librte-net-vhost23 librte-mempool-ring23
  # the fuzz targets (scripts/test.sh "fuzz build"): clang with libFuzzer's runtime
  clang libclang-rt-dev
  # tools used by tests and benchmarks
  util-linux procps tmux
  # the Wireshark plugin (build/wireshark/vhostuser.so) and its tests; glib headers come with
  # libwireshark-dev's API but are not among its dependencies
  libwireshark-dev libglib2.0-dev tshark
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "setup: installing ${missing[*]}" >&2
sudo_cmd=()
[ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq >/dev/null
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
