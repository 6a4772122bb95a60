// `vhostscope memmap`: the guest memory map of each session as the front-end set it up
// (SET_MEM_TABLE, ADD_MEM_REG, REM_MEM_REG: GPA, UVA, size, mmap offset, the fd that backed each
// region) and where every vring's descriptor table, avail (driver) and used (device) areas lie in
// it, translated from the UVAs of SET_VRING_ADDR through the table.
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "app/cli/args.hpp"
#include "app/cli/capture_input.hpp"
#include "app/cli/commands.hpp"
#include "app/common/text_escape.hpp"
#include "decoders/virtio/guest_memory.hpp"

namespace vhs::cli {

namespace {

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
  add_capture_file_argument(args, &path);
  if (auto rc = args.parse(argc, argv)) return *rc;

  // The Store's session analysis follows the table (MemoryTableTracker) and the vrings
  // (VringTracker) with the same rules the live proxy samples by.
  auto input = open_capture_input("memmap", path, "", "");
  if (!input) return 2;
  std::vector<const StoreSession*> sessions;
  for (const StoreSession& s : input->store.sessions()) sessions.push_back(&s);
  std::stable_sort(sessions.begin(), sessions.end(),
                   [](const StoreSession* a, const StoreSession* b) { return a->id < b->id; });
  std::string out;
  for (const StoreSession* session : sessions) {
    const SessionState& st = session->state();
    std::vector<const VringState*> vrings;
    for (const VringState& v : st.vrings)
      if (v.addr) vrings.push_back(&v);
    if (st.regions.empty() && vrings.empty()) continue;
    out += fmt::format("Session {}: {} region{}\n", session->id, st.regions.size(),
                       st.regions.size() == 1 ? "" : "s");
    std::vector<MemRegionValue> regions;
    for (size_t i = 0; i < st.regions.size(); ++i) {
      const MemRegionState& r = st.regions[i];
      const MemRegionValue& g = r.region;
      const std::string fd = !r.has_fd           ? std::string("no fd")
                             : r.fd.name.empty() ? std::string("fd")
                                                 : escape_text(r.fd.name);
      out +=
          fmt::format("  region {}: gpa 0x{:x}-0x{:x} uva 0x{:x} size 0x{:x} offset 0x{:x} fd {}\n",
                      i, g.guest_phys_addr, g.guest_phys_addr + g.memory_size, g.userspace_addr,
                      g.memory_size, g.mmap_offset, fd);
      regions.push_back(g);
    }
    MemoryMap map(regions);
    for (const VringState* v : vrings) {
      const VringAddrValue& a = *v->addr;
      out += fmt::format("  vring {}: desc {}\n", v->index, where(map, a.desc_user_addr));
      out += fmt::format("           avail {}\n", where(map, a.avail_user_addr));
      out += fmt::format("           used {}\n", where(map, a.used_user_addr));
    }
  }
  if (out.empty()) out = "no memory table in this capture\n";
  std::fwrite(out.data(), 1, out.size(), stdout);
  return 0;
}

}  // namespace vhs::cli
