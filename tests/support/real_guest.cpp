// Real-peer test pieces (see real_guest.hpp).
#include "support/real_guest.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace vhs::test {

std::string guest_dir() {
  if (const char* env = std::getenv("VHS_GUEST_DIR"); env && *env) return env;
  return (std::filesystem::path(VHS_BINARY_DIR) / "guest").string();
}

std::string build_guest(const std::string& log_dir) {
  CommandResult r = run_command(
      {"/bin/bash", std::string(VHS_SOURCE_DIR) + "/scripts/build-guest.sh", guest_dir()}, log_dir,
      std::chrono::milliseconds(280000));
  if (r.exit_code == 0) return {};
  return "cannot build the test guest (exit " + std::to_string(r.exit_code) + "): " + r.err;
}

bool make_blk_disk(const std::string& path) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  for (int s = 0; s < 2048; ++s) {
    char line[32];
    std::snprintf(line, sizeof line, "VHS-HOST sector %06d", s);
    std::string sector = line;
    sector.resize(511, '.');
    sector += '\n';
    out << sector;
  }
  out.seekp((8 << 20) - 1);
  out.put('\0');
  return static_cast<bool>(out);
}

std::vector<std::string> qsd_blk_argv(const std::string& disk, const std::string& socket,
                                      int queues) {
  return {"/usr/bin/qemu-storage-daemon", "--blockdev",
          "driver=file,node-name=file0,filename=" + disk, "--export",
          "type=vhost-user-blk,id=exp0,node-name=file0,num-queues=" + std::to_string(queues) +
              ",addr.type=unix,addr.path=" + socket + ",writable=on"};
}

std::vector<std::string> qemu_blk_argv(const QemuBlkGuest& g) {
  const std::string mem = std::to_string(g.memory_mib);
  std::vector<std::string> argv = {
      "/usr/bin/qemu-system-x86_64",
      "-machine",
      "q35",
      "-accel",
      "tcg",
      "-m",
      mem,
      "-smp",
      std::to_string(g.cpus),
      "-object",
      "memory-backend-memfd,id=mem,size=" + mem + "M,share=on",
      "-numa",
      "node,memdev=mem",
      "-chardev",
      "socket,id=c0,path=" + g.chardev_socket + g.chardev_extra,
      "-device",
      "vhost-user-blk-pci,chardev=c0,num-queues=" + std::to_string(g.queues),
      "-kernel",
      guest_dir() + "/vmlinuz",
      "-initrd",
      guest_dir() + "/initramfs.cpio.gz",
      "-append",
      "console=ttyS0 " + g.append,
      "-nodefaults",
      "-display",
      "none",
      "-serial",
      "file:" + g.serial_log,
      "-no-reboot"};
  if (!g.monitor.empty()) {
    argv.push_back("-monitor");
    argv.push_back("unix:" + g.monitor + ",server=on,wait=off");
  }
  return argv;
}

size_t count_of(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

namespace {

using Clock = std::chrono::steady_clock;

// Reads until `text` ends with the monitor prompt or the deadline passes.
bool read_until_prompt(int fd, std::string& text, Clock::time_point deadline) {
  static constexpr std::string_view kPrompt = "(qemu) ";
  while (!(text.size() >= kPrompt.size() &&
           text.compare(text.size() - kPrompt.size(), kPrompt.size(), kPrompt) == 0)) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left)) <= 0) return false;
    char buf[4096];
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) return false;
    text.append(buf, static_cast<size_t>(n));
  }
  return true;
}

}  // namespace

std::string monitor_command(const std::string& socket, const std::string& command,
                            std::chrono::milliseconds timeout, std::string& error) {
  const auto deadline = Clock::now() + timeout;
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    error = std::strerror(errno);
    return {};
  }
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, socket.c_str(), sizeof addr.sun_path - 1);
  std::string out;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    error = "connect " + socket + ": " + std::strerror(errno);
  } else if (std::string banner; !read_until_prompt(fd, banner, deadline)) {
    error = "no monitor prompt";
  } else {
    const std::string line = command + "\n";
    if (::write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size()))
      error = "write to the monitor failed";
    else if (!read_until_prompt(fd, out, deadline))
      error = "the monitor did not answer '" + command + "'";
  }
  ::close(fd);
  return error.empty() ? out : std::string();
}

}  // namespace vhs::test
