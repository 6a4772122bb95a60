// `vhostscope memmap`: the guest memory map of each session as the front-end set it up
// (SET_MEM_TABLE, ADD_MEM_REG, REM_MEM_REG: GPA, UVA, size, mmap offset, the fd that backed each
// region) and where every vring's descriptor table, avail (driver) and used (device) areas lie in
// it, translated from the UVAs of SET_VRING_ADDR through the table.
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "app/cli/args.hpp"
#include "app/cli/capture_input.hpp"
#include "app/cli/commands.hpp"
#include "captures/format/capture_file.hpp"
#include "decoders/vhost_user/registry.hpp"
#include "decoders/virtio/guest_memory.hpp"

namespace vhs::cli {

namespace {

uint32_t number_of(std::string_view name) {
  const RequestInfo* info = find_request_by_name(name);
  return info != nullptr && info->channel == Channel::Frontend ? info->number : UINT32_MAX;
}

uint64_t le64(const std::vector<uint8_t>& b, size_t off) {
  return off + 8 <= b.size() ? load_le64(b.data() + off) : 0;
}
uint32_t le32(const std::vector<uint8_t>& b, size_t off) {
  return off + 4 <= b.size() ? load_le32(b.data() + off) : 0;
}

MemRegionValue region_at(const std::vector<uint8_t>& b, size_t off) {
  return {le64(b, off), le64(b, off + 8), le64(b, off + 16), le64(b, off + 24), 0, 0};
}

struct SessionMap {
  std::vector<MemRegionValue> regions;
  std::vector<std::string> fds;  // parallel to regions
  std::map<uint32_t, VringAddrValue> vrings;
};

std::string where(const MemoryMap& map, uint64_t uva) {
  auto r = map.find_uva(uva);
  if (!r) return fmt::format("uva 0x{:x} NOT MAPPED", uva);
  const MemRegionValue& reg = map.regions()[r->region];
  return fmt::format("uva 0x{:x} = gpa 0x{:x} (region {} +0x{:x})", uva,
                     reg.guest_phys_addr + r->offset, r->region, r->offset);
}

}  // namespace

int run_memmap(int argc, char** argv) {
  std::string path;
  ArgParser args("memmap", "FILE",
                 "Per session: the guest memory regions (GPA, UVA, size, mmap offset, backing fd) "
                 "and where each\n"
                 "vring's descriptor table, avail and used areas lie in guest memory.");
  args.positional("FILE", "a capture written by 'vhostscope record'", &path);
  if (auto rc = args.parse(argc, argv)) return *rc;

  std::string error;
  auto reader = CaptureReader::open(path, error);
  if (!reader) {
    std::fprintf(stderr, "vhostscope memmap: %s\n",
                 capture_error_in_our_words(path, error).c_str());
    return 2;
  }
  const uint32_t set_mem_table = number_of("SET_MEM_TABLE"), add_mem_reg = number_of("ADD_MEM_REG"),
                 rem_mem_reg = number_of("REM_MEM_REG"),
                 set_vring_addr = number_of("SET_VRING_ADDR");
  std::map<uint32_t, SessionMap> sessions;
  Record r;
  while (reader->next(r)) {
    if (r.kind != RecordKind::Message || r.channel != Channel::Frontend ||
        r.direction != Direction::ToBackend || r.bytes.size() < kHeaderSize)
      continue;
    const uint32_t request = le32(r.bytes, 0);
    if ((le32(r.bytes, 4) & kFlagReply) != 0) continue;
    const size_t p = kHeaderSize;
    SessionMap& s = sessions[r.session];
    auto fd_name = [&](size_t i) {
      return i < r.fds.size() ? (r.fds[i].name.empty() ? std::string("fd") : r.fds[i].name)
                              : std::string("no fd");
    };
    if (request == set_mem_table) {
      s.regions.clear();
      s.fds.clear();
      const uint32_t n = le32(r.bytes, p);
      for (uint32_t i = 0; i < n && p + 8 + (i + 1) * 32 <= r.bytes.size(); ++i) {
        s.regions.push_back(region_at(r.bytes, p + 8 + i * 32));
        s.fds.push_back(fd_name(i));
      }
    } else if (request == add_mem_reg) {
      s.regions.push_back(region_at(r.bytes, p + 8));
      s.fds.push_back(fd_name(0));
    } else if (request == rem_mem_reg) {
      MemRegionValue gone = region_at(r.bytes, p + 8);
      for (size_t i = 0; i < s.regions.size(); ++i)
        if (s.regions[i].guest_phys_addr == gone.guest_phys_addr &&
            s.regions[i].memory_size == gone.memory_size) {
          s.regions.erase(s.regions.begin() + static_cast<std::ptrdiff_t>(i));
          s.fds.erase(s.fds.begin() + static_cast<std::ptrdiff_t>(i));
          break;
        }
    } else if (request == set_vring_addr) {
      VringAddrValue a;
      a.index = le32(r.bytes, p);
      a.flags = le32(r.bytes, p + 4);
      a.desc_user_addr = le64(r.bytes, p + 8);
      a.used_user_addr = le64(r.bytes, p + 16);
      a.avail_user_addr = le64(r.bytes, p + 24);
      a.log_guest_addr = le64(r.bytes, p + 32);
      s.vrings[a.index] = a;
    }
  }
  std::string out;
  for (const auto& [id, s] : sessions) {
    if (s.regions.empty() && s.vrings.empty()) continue;
    out += fmt::format("Session {}: {} region{}\n", id, s.regions.size(),
                       s.regions.size() == 1 ? "" : "s");
    for (size_t i = 0; i < s.regions.size(); ++i) {
      const MemRegionValue& g = s.regions[i];
      out +=
          fmt::format("  region {}: gpa 0x{:x}-0x{:x} uva 0x{:x} size 0x{:x} offset 0x{:x} fd {}\n",
                      i, g.guest_phys_addr, g.guest_phys_addr + g.memory_size, g.userspace_addr,
                      g.memory_size, g.mmap_offset, s.fds[i]);
    }
    MemoryMap map(s.regions);
    for (const auto& [index, a] : s.vrings) {
      out += fmt::format("  vring {}: desc {}\n", index, where(map, a.desc_user_addr));
      out += fmt::format("           avail {}\n", where(map, a.avail_user_addr));
      out += fmt::format("           used {}\n", where(map, a.used_user_addr));
    }
  }
  if (out.empty()) out = "no memory table in this capture\n";
  std::fwrite(out.data(), 1, out.size(), stdout);
  return 0;
}

}  // namespace vhs::cli
