// Child process handling for end-to-end tests (see process.hpp).
#include "support/process.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <sstream>
#include <thread>

extern char** environ;

namespace vhs::test {

namespace {

using Clock = std::chrono::steady_clock;

std::atomic<int> g_child_counter{0};

int decode_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace

std::string vhostscope_binary() { return std::string(VHS_BINARY_DIR) + "/vhostscope"; }

std::string read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool wait_for_path(const std::string& path, Millis timeout) {
  auto deadline = Clock::now() + timeout;
  struct stat st;
  while (::lstat(path.c_str(), &st) != 0) {
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(Millis(5));
  }
  return true;
}

ChildProcess::ChildProcess(std::vector<std::string> argv, const std::string& log_dir) {
  int n = g_child_counter.fetch_add(1);
  out_path_ = log_dir + "/child" + std::to_string(n) + ".out";
  err_path_ = log_dir + "/child" + std::to_string(n) + ".err";
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, out_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0600);
  posix_spawn_file_actions_addopen(&actions, 2, err_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0600);
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  pid_t pid = -1;
  if (posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ) == 0) pid_ = pid;
  posix_spawn_file_actions_destroy(&actions);
}

ChildProcess::~ChildProcess() {
  if (pid_ > 0 && !status_) {
    ::kill(pid_, SIGKILL);
    int status;
    ::waitpid(pid_, &status, 0);
  }
}

bool ChildProcess::running() {
  if (pid_ <= 0 || status_) return false;
  int status;
  pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    status_ = decode_status(status);
    return false;
  }
  return true;
}

void ChildProcess::send_signal(int sig) {
  if (pid_ > 0 && !status_) ::kill(pid_, sig);
}

std::optional<int> ChildProcess::wait_exit(Millis timeout) {
  auto deadline = Clock::now() + timeout;
  while (running()) {
    if (Clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(Millis(5));
  }
  return status_;
}

std::string ChildProcess::stdout_text() const { return read_text_file(out_path_); }
std::string ChildProcess::stderr_text() const { return read_text_file(err_path_); }

bool ChildProcess::wait_for_stderr(const std::string& needle, Millis timeout) const {
  auto deadline = Clock::now() + timeout;
  while (stderr_text().find(needle) == std::string::npos) {
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(Millis(10));
  }
  return true;
}

int ChildProcess::count_fds() const {
  std::string dir = "/proc/" + std::to_string(pid_) + "/fd";
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return -1;
  int count = 0;
  while (dirent* e = ::readdir(d))
    if (e->d_name[0] != '.') ++count;
  ::closedir(d);
  return count;
}

int ChildProcess::wait_for_fd_count(int expected, Millis timeout) const {
  auto deadline = Clock::now() + timeout;
  int n = count_fds();
  while (n != expected && Clock::now() < deadline) {
    std::this_thread::sleep_for(Millis(10));
    n = count_fds();
  }
  return n;
}

CommandResult run_command(std::vector<std::string> argv, const std::string& log_dir,
                          Millis timeout) {
  CommandResult r;
  ChildProcess child(std::move(argv), log_dir);
  if (!child.started()) return r;
  auto code = child.wait_exit(timeout);
  r.exit_code = code ? *code : -1;
  r.out = child.stdout_text();
  r.err = child.stderr_text();
  return r;
}

}  // namespace vhs::test
