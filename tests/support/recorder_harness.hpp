// Runs the real `vhostscope record` for a test: a private directory with the socket and capture
// paths, startup wait, idle fd count, clean stop. Peers are set up by the test.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace vhs::test {

struct RecorderHarness {
  TempDir dir;
  std::string frontend_sock = dir / "fe.sock";
  std::string backend_sock = dir / "be.sock";
  std::string capture = dir / "capture.pcap";
  std::unique_ptr<ChildProcess> proc;
  int idle_fds = -1;  // fd count of the recorder while it waits for a session

  // `frontend_listen`: --frontend-listen (else --frontend-connect); `backend_connect`:
  // --backend-connect (else --backend-listen). Waits until the recorder is ready (its listening
  // socket exists and it reported it is recording); false with the reason in `why` otherwise.
  bool start(std::vector<std::string> extra = {}, bool frontend_listen = true,
             bool backend_connect = true);
  std::string why;

  // SIGTERM, then the exit status (nullopt if it did not exit in time).
  std::optional<int> stop(Millis timeout = Millis(5000));
  std::string stderr_text() const { return proc ? proc->stderr_text() : std::string(); }
};

}  // namespace vhs::test
