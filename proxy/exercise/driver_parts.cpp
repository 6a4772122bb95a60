#include "proxy/exercise/driver_parts.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "decoders/virtio/guest_memory.hpp"
#include "proxy/sys_error.hpp"

namespace vhs::exercise {

bool make_queue_notifiers(UniqueFd& kick, UniqueFd& call, QueueSetup& setup, std::string& error) {
  kick.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  call.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!kick || !call) {
    error = sys_error("create", "eventfd", errno);
    return false;
  }
  setup.kick_fd = kick.get();
  setup.call_fd = call.get();
  return true;
}

void await_call(int call_fd, std::chrono::milliseconds left) {
  pollfd p{call_fd, POLLIN, 0};
  const int rc = ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left.count() + 1, 100)));
  if (rc > 0) {
    uint64_t v = 0;
    (void)!::read(call_fd, &v, sizeof v);
  }
}

std::vector<std::vector<uint8_t>> read_written(const GuestRam& ram, std::span<const uint64_t> gpas,
                                               std::span<const uint32_t> sizes) {
  std::vector<std::vector<uint8_t>> out;
  out.reserve(gpas.size());
  for (size_t k = 0; k < gpas.size() && k < sizes.size(); ++k) {
    std::vector<uint8_t> bytes(sizes[k]);
    ram.read(gpas[k], bytes);
    out.push_back(std::move(bytes));
  }
  return out;
}

RingSnapshot queue_snapshot(const GuestRam& ram, unsigned queue, const QueueSetup& setup,
                            uint64_t features, DeviceKind device,
                            std::optional<uint32_t> vring_base) {
  auto view = ram.view();
  RingLocation loc = locate_ring(static_cast<const RegionMemory&>(*view).map(), queue, setup.size,
                                 setup.addr, features, device);
  loc.vring_base = vring_base;
  return take_ring_snapshot(*view, loc);
}

}  // namespace vhs::exercise
