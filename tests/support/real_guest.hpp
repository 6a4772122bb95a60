// The pieces every real-peer test repeats: the test guest (scripts/build-guest.sh), a raw disk
// whose sector 0 holds the pattern the guest checks, qemu-storage-daemon exporting it over
// vhost-user-blk, and the QEMU (TCG) command line with a vhost-user-blk device on a socket.
#pragma once

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "support/process.hpp"

namespace vhs::test {

// VHS_GUEST_DIR, else <build>/guest.
std::string guest_dir();
// Builds (or finds cached) the guest kernel and initramfs; "" on success, else why not.
std::string build_guest(const std::string& log_dir);

// An 8 MiB raw disk whose sectors 0..2047 hold "VHS-HOST sector NNNNNN" padded with dots to 511
// bytes and a newline (what the guest's blk, hang and mq scenarios check, as run-real-peers.sh
// writes it).
bool make_blk_disk(const std::string& path);

// qemu-storage-daemon exporting `disk` as vhost-user-blk listening on `socket`.
std::vector<std::string> qsd_blk_argv(const std::string& disk, const std::string& socket,
                                      int queues = 1);

struct QemuBlkGuest {
  std::string chardev_socket;  // the path QEMU connects to
  std::string chardev_extra;   // appended to the -chardev options, e.g. ",reconnect=1"
  std::string append;          // kernel command line after "console=ttyS0 "
  std::string serial_log;      // the guest console goes to this file
  int memory_mib = 256;
  int cpus = 1;
  int queues = 1;       // vhost-user-blk-pci num-queues
  std::string monitor;  // a unix socket for QEMU's human monitor, if not empty
};
// qemu-system-x86_64 (q35, TCG) with shared memfd guest RAM and one vhost-user-blk-pci queue.
std::vector<std::string> qemu_blk_argv(const QemuBlkGuest& guest);

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

// Sends one command to QEMU's human monitor on a unix socket and returns its output (up to the
// next prompt); "" and `error` set when the monitor did not answer within `timeout`.
std::string monitor_command(const std::string& socket, const std::string& command,
                            std::chrono::milliseconds timeout, std::string& error);

// How many times `needle` occurs in `text`.
size_t count_of(const std::string& text, const std::string& needle);

}  // namespace vhs::test
