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

// An 8 MiB raw disk, sector 0 "VHS-HOST sector 000000" padded with dots to 511 bytes and a
// newline (what the guest's blk and hang scenarios check first, as run-real-peers.sh writes it).
bool make_blk_disk(const std::string& path);

// qemu-storage-daemon exporting `disk` as vhost-user-blk listening on `socket`.
std::vector<std::string> qsd_blk_argv(const std::string& disk, const std::string& socket);

struct QemuBlkGuest {
  std::string chardev_socket;  // the path QEMU connects to
  std::string chardev_extra;   // appended to the -chardev options, e.g. ",reconnect=1"
  std::string append;          // kernel command line after "console=ttyS0 "
  std::string serial_log;      // the guest console goes to this file
  int memory_mib = 256;
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

// How many times `needle` occurs in `text`.
size_t count_of(const std::string& text, const std::string& needle);

}  // namespace vhs::test
