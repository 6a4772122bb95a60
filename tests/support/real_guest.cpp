// Real-peer test pieces (see real_guest.hpp).
#include "support/real_guest.hpp"

#include <cstdlib>
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
  std::string sector = "VHS-HOST sector 000000";
  sector.resize(511, '.');
  sector += '\n';
  out << sector;
  out.seekp((8 << 20) - 1);
  out.put('\0');
  return static_cast<bool>(out);
}

std::vector<std::string> qsd_blk_argv(const std::string& disk, const std::string& socket) {
  return {"/usr/bin/qemu-storage-daemon", "--blockdev",
          "driver=file,node-name=file0,filename=" + disk, "--export",
          "type=vhost-user-blk,id=exp0,node-name=file0,addr.type=unix,addr.path=" + socket +
              ",writable=on"};
}

std::vector<std::string> qemu_blk_argv(const QemuBlkGuest& g) {
  const std::string mem = std::to_string(g.memory_mib);
  return {"/usr/bin/qemu-system-x86_64",
          "-machine",
          "q35",
          "-accel",
          "tcg",
          "-m",
          mem,
          "-smp",
          "1",
          "-object",
          "memory-backend-memfd,id=mem,size=" + mem + "M,share=on",
          "-numa",
          "node,memdev=mem",
          "-chardev",
          "socket,id=c0,path=" + g.chardev_socket + g.chardev_extra,
          "-device",
          "vhost-user-blk-pci,chardev=c0,num-queues=1",
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
}

size_t count_of(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

}  // namespace vhs::test
