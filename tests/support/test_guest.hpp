// The tiny test guest (scripts/build-guest.sh) under QEMU TCG, for the real-peer tests: where the
// guest lives, the raw disk its blk scenarios expect, the QEMU command line, QEMU's human monitor,
// and a bounded poll. One place, so every real-peer test boots the guest the same way.
#pragma once

#include <chrono>
#include <string>
#include <thread>
#include <vector>

namespace vhs::test {

// The guest's kernel + initramfs directory ($VHS_GUEST_DIR or BUILD/guest).
std::string test_guest_dir();

// Builds (or reuses the cached) guest; "" on success, else why not.
std::string build_test_guest(const std::string& log_dir);

// A raw 8 MiB disk whose sectors 0..2047 hold "VHS-HOST sector NNNNNN" padded with dots to 511
// bytes and a newline: the pattern the guest's blk scenarios check.
bool make_test_disk(const std::string& path);

struct GuestVm {
  std::string socket;         // the vhost-user socket QEMU connects to (chardev c0)
  std::string chardev_extra;  // appended to the chardev options, e.g. ",reconnect=1"
  std::string device;         // e.g. "vhost-user-blk-pci,chardev=c0,num-queues=4"
  std::string scenario;       // vhs.test=... of scripts/guest/init
  std::string serial;         // console log file
  int cpus = 1;
  int memory_mb = 256;
  std::string monitor;  // unix socket for the human monitor, if not empty
  std::vector<std::string> extra_append;
};

// argv for qemu-system-x86_64 (q35, TCG, memfd shared memory as vhost-user needs).
std::vector<std::string> qemu_argv(const GuestVm& vm);

// Sends one command to QEMU's human monitor on a unix socket and returns its output (without the
// prompt); "" and `error` set when the monitor did not answer within `timeout`.
std::string monitor_command(const std::string& socket, const std::string& command,
                            std::chrono::milliseconds timeout, std::string& error);

// Polls `ok` every 50 ms until it holds or `timeout` passes; stops early when `alive` fails.
template <typename Ok, typename Alive>
bool wait_until(Ok ok, Alive alive, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (ok()) return true;
    if (!alive()) return ok();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return ok();
}

}  // namespace vhs::test
