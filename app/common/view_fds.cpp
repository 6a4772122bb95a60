// fd roles per message: the registry's fd_role / reply_fd_role columns say what a request's fds
// are; the payload adds the detail (queue index, region).
#include "app/common/view_fds.hpp"

#include <fmt/format.h>

#include <variant>

#include "app/common/text_format.hpp"
#include "decoders/vhost_user/registry.hpp"

namespace vhs::view {
namespace {

std::string region_text(const MemRegionValue& r) {
  return fmt::format("GPA 0x{:x}, {}", r.guest_phys_addr, compact_size(r.memory_size));
}

// The role of one fd: the registry's name for it, with what the payload says about that fd.
std::string describe_role(FdRole role, const DecodedMessage& msg, size_t fd_index) {
  switch (role) {
    case FdRole::MemoryRegion:
      if (const auto* t = std::get_if<MemTableValue>(&msg.payload)) {
        std::string s = fmt::format("guest memory, region {}", fd_index);
        if (fd_index < t->regions.size()) s += " (" + region_text(t->regions[fd_index]) + ")";
        return s;
      }
      if (const auto* r = std::get_if<SingleRegionValue>(&msg.payload))
        return fmt::format("guest memory region ({})", region_text(r->region));
      return std::string(fd_role_name(role));
    case FdRole::MemoryRegionRemoved:
      if (const auto* r = std::get_if<SingleRegionValue>(&msg.payload))
        return fmt::format("region being removed (back-end closes it) ({})",
                           region_text(r->region));
      return "region being removed (back-end closes it)";
    case FdRole::Kick:
    case FdRole::Call:
    case FdRole::Err:
      if (const auto* v = std::get_if<VringIndexFdValue>(&msg.payload))
        return fmt::format("{}, queue {}", fd_role_name(role), v->index());
      return std::string(fd_role_name(role));
    case FdRole::HostNotifier:
      if (const auto* v = std::get_if<VringAreaValue>(&msg.payload))
        return fmt::format("{}, queue {}", fd_role_name(role), v->index());
      return std::string(fd_role_name(role));
    case FdRole::DeviceState:
      return msg.is_reply ? "device state pipe (back-end's replacement)" : "device state pipe";
    default: return std::string(fd_role_name(role));
  }
}

}  // namespace

std::vector<std::string> fd_roles(const DecodedMessage& msg, size_t fd_count) {
  std::vector<std::string> out(fd_count, "unexpected fd");
  if (fd_count == 0 || msg.info == nullptr) return out;
  const FdRole role = msg.is_reply ? msg.info->reply_fd_role : msg.info->fd_role;
  if (role == FdRole::None) return out;
  for (size_t i = 0; i < fd_count; ++i) out[i] = describe_role(role, msg, i);
  return out;
}

}  // namespace vhs::view
