// Field path helpers (see field_paths.hpp).
#include "decoders/vhost_user/field_paths.hpp"

#include <cctype>

namespace vhs {
namespace {

// Prefixes of the earlier struct-named paths, longest first; replaced at a component boundary.
struct Rename {
  std::string_view old_name;
  std::string_view new_name;
};
constexpr Rename kPrefixRenames[] = {
    {"mem_table.region", "region"},
    {"single_region.region", "region"},
    {"single_region.padding", "mem.padding"},
    {"mem_table", "mem"},
    {"vring_state", "vring"},
    {"vring_addr", "vring"},
    {"vring_index_fd", "vring"},
    {"vring_area.u64", "vring"},
    {"vring_area.size", "vring.area_size"},
    {"vring_area.offset", "vring.area_offset"},
    {"device_state_params", "device_state"},
    {"device_state_result", "device_state.result"},
    {"shmem_map", "shmem"},
    {"shmem_config", "shmem"},
};
// Last components that were renamed; typed alone they become the qualified path, because the new
// leaf ("size", "gpa") is shared by fields of other payloads.
struct LeafRename {
  std::string_view old_name;
  std::string_view new_name;
  std::string_view qualified;
};
constexpr LeafRename kLeafRenames[] = {
    {"desc_user_addr", "desc_addr", "vring.desc_addr"},
    {"used_user_addr", "used_addr", "vring.used_addr"},
    {"avail_user_addr", "avail_addr", "vring.avail_addr"},
    {"log_guest_addr", "log_addr", "vring.log_addr"},
    {"guest_phys_addr", "gpa", "region.gpa"},
    {"memory_size", "size", "region.size"},
    {"userspace_addr", "uva", "region.uva"},
};

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

bool boundary(std::string_view path, size_t at) {
  return at == path.size() || path[at] == '.' || path[at] == '[';
}

}  // namespace

std::string public_field_name(std::string_view path) {
  std::string out(kPublicFieldPrefix);
  for (size_t i = 0; i < path.size(); ++i) {
    if (path[i] == '[') {
      const size_t close = path.find(']', i);
      if (close != std::string_view::npos) {
        i = close;
        continue;
      }
    }
    out += path[i];
  }
  return out;
}

std::string current_field_path(std::string_view path) {
  std::string out(path);
  for (const Rename& r : kPrefixRenames) {
    if (out.size() >= r.old_name.size() && iequals(out.substr(0, r.old_name.size()), r.old_name) &&
        boundary(out, r.old_name.size())) {
      out = std::string(r.new_name) + out.substr(r.old_name.size());
      break;
    }
  }
  const size_t dot = out.rfind('.');
  const size_t leaf = dot == std::string::npos ? 0 : dot + 1;
  for (const LeafRename& r : kLeafRenames)
    if (iequals(std::string_view(out).substr(leaf), r.old_name)) {
      out = leaf == 0 ? std::string(r.qualified) : out.substr(0, leaf) + std::string(r.new_name);
      break;
    }
  return out;
}

}  // namespace vhs
