// fd roles per request (vhost-user spec message table; facts sections 2-3). Requests are looked up
// by their registry names once, so numbers stay in the registry.
#include "app/common/view_fds.hpp"

#include <fmt/format.h>

#include <variant>

#include "app/common/text_format.hpp"
#include "decoders/vhost_user/registry.hpp"

namespace vhs::view {
namespace {

struct Known {
  const RequestInfo* set_mem_table = find_request_by_name("SET_MEM_TABLE");
  const RequestInfo* add_mem_reg = find_request_by_name("ADD_MEM_REG");
  const RequestInfo* rem_mem_reg = find_request_by_name("REM_MEM_REG");
  const RequestInfo* set_log_base = find_request_by_name("SET_LOG_BASE");
  const RequestInfo* set_log_fd = find_request_by_name("SET_LOG_FD");
  const RequestInfo* kick = find_request_by_name("SET_VRING_KICK");
  const RequestInfo* call = find_request_by_name("SET_VRING_CALL");
  const RequestInfo* err = find_request_by_name("SET_VRING_ERR");
  const RequestInfo* backend_req = find_request_by_name("SET_BACKEND_REQ_FD");
  const RequestInfo* get_inflight = find_request_by_name("GET_INFLIGHT_FD");
  const RequestInfo* set_inflight = find_request_by_name("SET_INFLIGHT_FD");
  const RequestInfo* postcopy_advise = find_request_by_name("POSTCOPY_ADVISE");
  const RequestInfo* gpu_socket = find_request_by_name("GPU_SET_SOCKET");
  const RequestInfo* get_shared = find_request_by_name("GET_SHARED_OBJECT");
  const RequestInfo* lookup_shared = find_request_by_name("BACKEND_SHARED_OBJECT_LOOKUP");
  const RequestInfo* device_state = find_request_by_name("SET_DEVICE_STATE_FD");
  const RequestInfo* host_notifier = find_request_by_name("BACKEND_VRING_HOST_NOTIFIER_MSG");
  const RequestInfo* shmem_map = find_request_by_name("BACKEND_SHMEM_MAP");
};

const Known& known() {
  static const Known k;
  return k;
}

std::string region_text(const MemRegionValue& r) {
  return fmt::format("GPA 0x{:x}, {}", r.guest_phys_addr, compact_size(r.memory_size));
}

}  // namespace

std::vector<std::string> fd_roles(const DecodedMessage& msg, size_t fd_count) {
  std::vector<std::string> out(fd_count, "unexpected fd");
  if (fd_count == 0 || msg.info == nullptr) return out;
  const Known& k = known();
  const RequestInfo* info = msg.info;
  const bool reply = msg.is_reply;
  auto all = [&](const std::string& role) {
    for (auto& r : out) r = role;
  };

  if (!reply && info == k.set_mem_table) {
    const auto* t = std::get_if<MemTableValue>(&msg.payload);
    for (size_t i = 0; i < fd_count; ++i) {
      out[i] = fmt::format("guest memory, region {}", i);
      if (t && i < t->regions.size()) out[i] += " (" + region_text(t->regions[i]) + ")";
    }
  } else if (!reply && (info == k.add_mem_reg || info == k.rem_mem_reg)) {
    std::string role =
        info == k.add_mem_reg ? "guest memory region" : "region being removed (back-end closes it)";
    if (const auto* r = std::get_if<SingleRegionValue>(&msg.payload))
      role += " (" + region_text(r->region) + ")";
    all(role);
  } else if (!reply && info == k.set_log_base) {
    all("dirty-page log bitmap");
  } else if (!reply && info == k.set_log_fd) {
    all("log-changed eventfd");
  } else if (!reply && (info == k.kick || info == k.call || info == k.err)) {
    std::string_view what = info == k.kick ? "kick" : info == k.call ? "call" : "error";
    const auto* v = std::get_if<VringIndexFdValue>(&msg.payload);
    all(v ? fmt::format("{} eventfd, queue {}", what, v->index())
          : fmt::format("{} eventfd", what));
  } else if (!reply && info == k.backend_req) {
    all("back-end channel socket");
  } else if ((reply && info == k.get_inflight) || (!reply && info == k.set_inflight)) {
    all("inflight buffer (shared memory)");
  } else if (reply && info == k.postcopy_advise) {
    all("userfaultfd");
  } else if (!reply && info == k.gpu_socket) {
    all("vhost-user-gpu socket");
  } else if (reply && (info == k.get_shared || info == k.lookup_shared)) {
    all("dmabuf of the shared object");
  } else if (info == k.device_state) {
    all(reply ? "device state pipe (back-end's replacement)" : "device state pipe");
  } else if (!reply && info == k.host_notifier) {
    const auto* v = std::get_if<VringAreaValue>(&msg.payload);
    all(v ? fmt::format("host notifier page, queue {}", v->index())
          : std::string("host notifier page"));
  } else if (!reply && info == k.shmem_map) {
    all("memory to map into a shared memory region");
  }
  return out;
}

}  // namespace vhs::view
