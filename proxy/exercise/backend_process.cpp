#include "proxy/exercise/backend_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <thread>

#include <fmt/format.h>

#include "proxy/log_text.hpp"
#include "proxy/sys_error.hpp"

namespace vhs::exercise {
namespace {

std::string status_text(int status) {
  if (WIFEXITED(status)) return fmt::format("exit status {}", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return fmt::format("signal {}", WTERMSIG(status));
  return fmt::format("wait status {}", status);
}

}  // namespace

BackendProcess::~BackendProcess() {
  std::string ignored;
  if (pid_ > 0) kill_and_reap(std::chrono::milliseconds(2000), ignored);
}

bool BackendProcess::start(std::string& error) {
  if (pid_ > 0 && running()) {
    error = fmt::format("the back-end (pid {}) is still running", pid_);
    return false;
  }
  ended_.clear();
  ended_cleanly_ = false;
  // Everything the child needs is made before fork: after it, only async-signal-safe calls.
  const std::string script = "exec " + command_;
  const char* argv[] = {"/bin/sh", "-c", script.c_str(), nullptr};
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    error = sys_error("fork", "the back-end", errno);
    return false;
  }
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);  // the engine is already gone
    const int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null >= 0) {
      ::dup2(null, STDIN_FILENO);
      ::dup2(null, STDOUT_FILENO);
    }
    ::execv("/bin/sh", const_cast<char* const*>(argv));
    ::_exit(127);
  }
  pid_ = pid;
  ++starts_;
  return true;
}

bool BackendProcess::running(std::string* how) {
  if (pid_ > 0) {
    int status = 0;
    const pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == 0) return true;
    ended_ = r == pid_ ? status_text(status) : "gone";
    ended_cleanly_ = r == pid_ && WIFEXITED(status) && WEXITSTATUS(status) == 0;
    pid_ = -1;
  }
  if (how) *how = ended_;
  return false;
}

bool BackendProcess::kill_and_reap(std::chrono::milliseconds wait, std::string& error) {
  if (pid_ <= 0) return true;
  ::kill(pid_, SIGKILL);
  const auto deadline = std::chrono::steady_clock::now() + wait;
  while (running()) {
    if (std::chrono::steady_clock::now() >= deadline) {
      error = fmt::format("the back-end (pid {}) did not die within {} of SIGKILL", pid_,
                          seconds_text(wait));
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

}  // namespace vhs::exercise
