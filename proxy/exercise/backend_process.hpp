// The back-end as a child of the exercise engine (`exercise --backend-command CMD`): started
// through /bin/sh so the command line may quote, exec'd so the child's pid is the back-end's own,
// killed with SIGKILL to play a crash and started again. It dies with the engine (PDEATHSIG), so a
// killed run leaves no daemon behind. Its standard output goes to /dev/null (the report is on
// ours); its standard error is ours, where a back-end says why it would not start.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>

namespace vhs::exercise {

class BackendProcess {
 public:
  explicit BackendProcess(std::string command) : command_(std::move(command)) {}
  ~BackendProcess();  // SIGKILL and reap when still running
  BackendProcess(const BackendProcess&) = delete;
  BackendProcess& operator=(const BackendProcess&) = delete;

  bool start(std::string& error);
  // SIGKILL, then waits (bounded) until it is gone: nothing of it runs on after this.
  bool kill_and_reap(std::chrono::milliseconds wait, std::string& error);
  // False once it exited; `how` then says with what ("exit status 1", "signal 9"), also on
  // later calls, until the next start().
  bool running(std::string* how = nullptr);
  // True once the process was reaped after exiting with status 0 (an end by design, such as a
  // back-end that serves one connection), false while it runs or after a signal or error status.
  bool exited_cleanly() const { return ended_cleanly_; }

  pid_t pid() const { return pid_; }
  const std::string& command() const { return command_; }
  unsigned starts() const { return starts_; }

 private:
  std::string command_;
  pid_t pid_ = -1;
  unsigned starts_ = 0;
  std::string ended_;  // how the last process ended, once reaped
  bool ended_cleanly_ = false;
};

}  // namespace vhs::exercise
