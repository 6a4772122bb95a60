#!/usr/bin/env bash
# Regenerates the GUI screenshots of README.md and docs/gui.md: docs/screenshots/*.png and
# docs/images/*.png. Starts a private Xvfb (own display number, stopped by PID) and runs
# `vhostscope-gui --screenshot` (libpng writes the files compressed) on the shipped captures and
# on a generated capture of a million messages (tools/gen_capture with its defaults: 4 sessions
# of a 4-queue blk device, seed 42).
# One image is grabbed from the running GUI instead (ImageMagick's `import` of the Xvfb root
# window; skipped with a message when `import` is missing):
#   gui-step.png a live session, which --screenshot does not run: the GUI relays
#                `vhostscope exercise` (front-end) to qemu-storage-daemon (back-end) with
#                `--break SET_VRING_KICK --break error` and is grabbed ${STEP_WAIT:-4} s later,
#                held there (skipped when qemu-storage-daemon is missing).
# It runs with a fresh ini (window 1280x800, the tab to show) in a private XDG_CONFIG_HOME; the X
# pointer stays at the middle of the 1920x1080 screen, where it shows anything to hover.
#
# Usage: scripts/update-screenshots.sh [NAME...]   NAME: an image's file name without .png
#        (default: all of them); BUILD_DIR (default build).
# Look at every image it writes before committing it.
set -euo pipefail
cd "$(dirname "$0")/.."
build=$(realpath "${BUILD_DIR:-build}")
ninja -C "$build" -j2 vhostscope-gui vhostscope gen_capture >/dev/null

work=$(mktemp -d /tmp/vhs-shots.XXXXXX)
display=""
xvfb_pid=""
pids=()
cleanup() {
  local k
  for ((k = ${#pids[@]} - 1; k >= 0; k--)); do  # the front-end first, the back-end last
    kill "${pids[k]}" 2>/dev/null && wait "${pids[k]}" 2>/dev/null || true
  done
  [ -n "$xvfb_pid" ] && kill "$xvfb_pid" 2>/dev/null && wait "$xvfb_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
# shellcheck source=scripts/xvfb-lib.sh
. scripts/xvfb-lib.sh  # the scripts run from the repository root (cd above)
start_xvfb update-screenshots 1920x1080
export DISPLAY=$display LIBGL_ALWAYS_SOFTWARE=1

names=("$@")
wanted() { [ ${#names[@]} -eq 0 ] || [[ " ${names[*]} " == *" $1 "* ]]; }
have_import=1
command -v import >/dev/null || have_import=0

# shot DIR/NAME SIZE VIEW CAPTURE [GUI OPTIONS...]: one view through --screenshot.
shot() {
  local path=$1 size=$2 view=$3 capture=$4
  shift 4
  wanted "$(basename "$path")" || return 0
  echo "== $path.png: --view $view --size $size $* $capture"
  "$build/vhostscope-gui" --screenshot "$work/shot.png" --view "$view" --size "$size" "$@" \
    "$capture" >/dev/null
  install -m 644 "$work/shot.png" "$path.png"
}

# start_gui TAB ARGS...: the interactive GUI at 1280x800 on tab TAB (0 Detail, 1 Features,
# 2 Memory, ...) with a fresh ini, in the background; its PID is in $gui_pid.
start_gui() {
  local tab=$1
  shift
  rm -rf "$work/config"
  mkdir -p "$work/config/vhostscope"
  printf '[VhostScope][Layout]\nTab=%s\nWindow=1280,800\n\n' "$tab" \
    >"$work/config/vhostscope/imgui.ini"
  XDG_CONFIG_HOME=$work/config "$build/vhostscope-gui" "$@" >>"$work/gui.log" 2>&1 &
  gui_pid=$!
  pids+=("$gui_pid")
}
grab() {  # grab DIR/NAME: the window's 1280x800 at the screen's top left corner
  import -window root -crop 1280x800+0+0 +repage "$work/grab.png"
  install -m 644 "$work/grab.png" "$1.png"
}
stop_gui() { kill "$gui_pid" 2>/dev/null && wait "$gui_pid" 2>/dev/null || true; }

s=docs/screenshots
i=docs/images
hang=captures/samples/blk-hang.pcap
boot=captures/samples/blk-boot.pcap

# The hang capture opens at its first error (the ring stall, #72); the README's caption is about
# the GET_VRING_BASE that is never answered (#74), so that one is selected.
shot $s/gui-blk-hang 1280x800 detail "$hang" --select 74
shot $s/gui-blk-hang-1920x1080 1920x1080 detail "$hang" --select 74
shot $s/findings 1280x800 findings "$hang"
shot $s/rings 1280x800 rings "$hang"
shot $s/ring-picture 1280x800 picture "$hang"
shot $s/stats 1280x800 stats "$hang"
for size in 1280x800 1920x1080; do
  shot $i/gui-timeline-$size "$size" timeline "$hang"
  shot $i/gui-plots-$size "$size" plots "$hang"
done
# SET_BACKEND_REQ_FD #11: acked (#13), a short field tree and one passed fd with its role, all
# on screen at 1280x800 (ADD_MEM_REG's longer tree pushes its fd below the pane).
shot $s/detail 1280x800 detail "$boot" --select 11
shot $s/features 1280x800 features "$boot" --select 24

if wanted million; then
  "$build/tools/gen_capture" "$work/million.pcap" >/dev/null
  # Opened from $work as million.pcap: the status bar shows that, not the temporary directory.
  (cd "$work" && shot "$OLDPWD/$s/million" 1280x800 detail million.pcap \
    --filter 'finding or GET_VRING_BASE')
fi

shot $s/memory 1280x800 memory "$boot"

# A live session held at a step breakpoint.
if wanted gui-step; then
  if [ "$have_import" = 1 ] && command -v qemu-storage-daemon >/dev/null; then
    echo "== $s/gui-step.png: live, exercise -> GUI (--break SET_VRING_KICK) -> qemu-storage-daemon"
    d=$work/gs
    mkdir -p "$d"
    truncate -s 8M "$d/disk.img"
    qemu-storage-daemon --blockdev driver=file,node-name=disk,filename="$d/disk.img" \
      --export type=vhost-user-blk,id=exp,node-name=disk,addr.type=unix,addr.path="$d/be.sock",writable=on \
      >"$d/qsd.log" 2>&1 &
    pids+=($!)
    for _ in $(seq 100); do [ -S "$d/be.sock" ] && break; sleep 0.1; done
    start_gui 0 --frontend-listen "$d/fe.sock" --backend-connect "$d/be.sock" \
      --break SET_VRING_KICK --break error
    for _ in $(seq 100); do [ -S "$d/fe.sock" ] && break; sleep 0.1; done
    # A long --timeout: the exercise waits at the breakpoint instead of giving up.
    "$build/vhostscope" exercise --backend-connect "$d/fe.sock" --device blk --timeout 600 \
      >"$d/exercise.log" 2>&1 &
    pids+=($!)
    sleep "${STEP_WAIT:-4}"  # the session reaches the breakpoint, the step bar polls its status
    grab $s/gui-step
  else
    echo "update-screenshots: gui-step.png skipped (needs qemu-storage-daemon and ImageMagick's import)" >&2
  fi
fi
