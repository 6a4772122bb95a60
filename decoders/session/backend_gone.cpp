// BackendGoneInFlight: requests in flight when the back-end disconnected.
#include "decoders/session/backend_gone.hpp"

#include <fmt/format.h>

#include "decoders/session/ring_health.hpp"
#include "decoders/virtio/ring_detail.hpp"

namespace vhs {
namespace {

bool index_ahead(const RingSnapshot& s) {
  for (const RingFault& f : s.faults)
    if (f.kind == RingFaultKind::IndexAhead) return true;
  return false;
}

// "avail idx 812, used idx 809" (split) / "driver position 5 wrap 1, used position 3 wrap 1".
std::string indices(const RingSnapshot& s) {
  if (s.type == RingType::Split)
    return fmt::format("avail idx {}, used idx {}", s.avail_idx, s.used_idx);
  return fmt::format("driver position {} wrap {}, used position {} wrap {}", s.avail_idx & 0x7fff,
                     s.avail_idx >> 15, s.used_idx & 0x7fff, s.used_idx >> 15);
}

}  // namespace

SessionCloser closer_of_disconnect(Direction direction, bool closed_by_proxy) {
  if (closed_by_proxy) return SessionCloser::Recorder;
  return direction == Direction::ToFrontend ? SessionCloser::Backend : SessionCloser::Frontend;
}

std::optional<Finding> backend_gone_in_flight(SessionCloser closer, const RingSnapshot& last,
                                              const VringState* vring, DeviceKind device,
                                              uint64_t last_ns, uint64_t disconnect_ns) {
  if (closer != SessionCloser::Backend) return std::nullopt;
  if (vring && (!vring->started || !vring->enabled)) return std::nullopt;
  // Counts mean something only when the index words were read and are consistent.
  if (!last.indices_ok || index_ahead(last) || last.inflight == 0) return std::nullopt;
  if (queue_waits_for_input(last, device)) return std::nullopt;
  const uint64_t age_ms = disconnect_ns > last_ns ? (disconnect_ns - last_ns) / 1'000'000 : 0;
  std::string detail = fmt::format(
      "the back-end disconnected with {} request{} in flight on queue {} ({}, ring state of {} ms "
      "before the disconnect)",
      last.inflight, last.inflight == 1 ? "" : "s", last.queue, indices(last), age_ms);
  if (last.oldest) detail += "; oldest " + describe_buffer(*last.oldest);
  return Finding{FindingCode::BackendGoneInFlight, std::move(detail)};
}

}  // namespace vhs
