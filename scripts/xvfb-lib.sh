# Sourced by scripts that run the GUI headless (gui-bench.sh, update-screenshots.sh).
# start_xvfb NAME WxH: starts a private Xvfb on the first free display number in a range that
# depends on this shell's PID (so parallel runs do not race for one), waits up to 10 s for its
# socket, and sets $display and $xvfb_pid; exits with "NAME: could not start Xvfb" otherwise.
# The caller's cleanup stops $xvfb_pid.
start_xvfb() {
  local name=$1 size=$2 n
  display=""
  xvfb_pid=""
  for n in $(seq $((300 + $$ % 300)) $((330 + $$ % 300))); do
    [ -e "/tmp/.X$n-lock" ] && continue
    Xvfb ":$n" -screen 0 "${size}x24" -nolisten tcp >/dev/null 2>&1 &
    xvfb_pid=$!
    for _ in $(seq 100); do [ -e "/tmp/.X11-unix/X$n" ] && break; sleep 0.1; done
    if [ -e "/tmp/.X11-unix/X$n" ] && kill -0 "$xvfb_pid" 2>/dev/null; then
      display=":$n"
      return 0
    fi
    kill "$xvfb_pid" 2>/dev/null || true
    xvfb_pid=""
  done
  echo "$name: could not start Xvfb" >&2
  exit 1
}
