// Child processes for end-to-end tests: the real `vhostscope` binary started with posix_spawn,
// output captured to files, every wait bounded, killed by PID when the handle goes away.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "support/wire_io.hpp"

namespace vhs::test {

// Path of the built CLI (VHS_BINARY_DIR/vhostscope).
std::string vhostscope_binary();

class ChildProcess {
 public:
  // argv[0] is the program path. stdout/stderr go to files in `log_dir`.
  ChildProcess(std::vector<std::string> argv, const std::string& log_dir);
  ~ChildProcess();  // SIGKILL + reap if still running
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  bool started() const { return pid_ > 0; }
  bool running();

  void send_signal(int sig);
  // Exit status: the exit code, or 128 + signal number if killed; nullopt on timeout.
  std::optional<int> wait_exit(Millis timeout);

  std::string stdout_text() const;
  std::string stderr_text() const;
  // True once `needle` appears in stderr.
  bool wait_for_stderr(const std::string& needle, Millis timeout) const;

  // Number of open fds of the child (entries in /proc/<pid>/fd); -1 if unreadable.
  int count_fds() const;
  // Waits until count_fds() == expected; returns the last count seen.
  int wait_for_fd_count(int expected, Millis timeout) const;

 private:
  pid_t pid_ = -1;
  std::optional<int> status_;
  std::string out_path_, err_path_;
};

struct CommandResult {
  int exit_code = -1;  // 128 + signal if killed, -1 if it did not finish in time
  std::string out, err;
};
// Runs a command to completion (bounded by `timeout`, then killed).
CommandResult run_command(std::vector<std::string> argv, const std::string& log_dir,
                          Millis timeout = Millis(20000));

// Waits until `path` exists (any file type).
bool wait_for_path(const std::string& path, Millis timeout);

std::string read_text_file(const std::string& path);

}  // namespace vhs::test
