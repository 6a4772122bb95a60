// The `vhostscope record` test harness (see recorder_harness.hpp).
#include "support/recorder_harness.hpp"

#include <signal.h>

namespace vhs::test {

bool RecorderHarness::start(std::vector<std::string> extra, bool frontend_listen,
                            bool backend_connect) {
  std::vector<std::string> argv = {vhostscope_binary(),
                                   "record",
                                   frontend_listen ? "--frontend-listen" : "--frontend-connect",
                                   frontend_sock,
                                   backend_connect ? "--backend-connect" : "--backend-listen",
                                   backend_sock,
                                   "-w",
                                   capture};
  argv.insert(argv.end(), extra.begin(), extra.end());
  proc = std::make_unique<ChildProcess>(argv, dir.path());
  if (!proc->started()) {
    why = "cannot start " + vhostscope_binary();
    return false;
  }
  // The "recording to" line comes after the capture file is open: the fd set is complete then.
  if (!proc->wait_for_stderr("vhostscope: recording to", Millis(10000))) {
    why = "the recorder did not report readiness; stderr:\n" + proc->stderr_text();
    return false;
  }
  if (frontend_listen && !wait_for_path(frontend_sock, Millis(5000))) {
    why = "no listening socket at " + frontend_sock;
    return false;
  }
  idle_fds = proc->count_fds();
  return true;
}

std::optional<int> RecorderHarness::stop(Millis timeout) {
  if (!proc) return std::nullopt;
  proc->send_signal(SIGTERM);
  return proc->wait_exit(timeout);
}

}  // namespace vhs::test
