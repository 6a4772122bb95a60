#include "proxy/exercise/packed_driver.hpp"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "decoders/virtio/guest_memory.hpp"
#include "decoders/virtio/ring_detail.hpp"
#include "decoders/virtio/ring_reading.hpp"
#include "decoders/virtio/ring_snapshot.hpp"
#include "proxy/exercise/driver_parts.hpp"
#include "proxy/exercise/frontend_link.hpp"
#include "proxy/log_text.hpp"

namespace vhs::exercise {
namespace {

// VIRTIO "Packed Virtqueues", "Packed Virtqueue Descriptor": addr u64, len u32, id u16, flags u16
// (NEXT, WRITE, INDIRECT, AVAIL, USED as ring_detail.hpp names them), 16 bytes each.
using ring_reading::kDescSize;
constexpr uint64_t kDescLen = 8, kDescId = 12, kDescFlags = 14;
// "Event Suppression Structure Format": off_wrap u16, flags u16; 4 bytes, 4-aligned.
constexpr uint64_t kEventAreaSize = 4;
constexpr uint64_t kEventOffWrap = 0, kEventFlags = 2;

// A descriptor written at a position of wrap counter `wrap` is available: AVAIL = wrap, USED =
// !wrap (VIRTIO "Driver and Device Ring Wrap Counters").
uint16_t avail_flags(bool wrap) { return wrap ? kPackedDescAvail : kPackedDescUsed; }

PackedPosition advance(PackedPosition p, uint32_t n, uint16_t size) {
  uint32_t i = p.index + n;
  while (i >= size) {
    i -= size;
    p.wrap = !p.wrap;
  }
  p.index = static_cast<uint16_t>(i);
  return p;
}

std::string event_flags_text(uint16_t flags, uint16_t off_wrap) {
  switch (flags) {
    case kPackedEventEnable: return "enable";
    case kPackedEventDisable: return "disable";
    case kPackedEventDesc:
      return fmt::format("desc {} wrap {}", off_wrap & 0x7fff, (off_wrap >> 15) & 1);
    default: return fmt::format("0x{:x}", flags);
  }
}

}  // namespace

PackedDriver::PackedDriver(GuestRam& ram, FrontendLink& link, DeviceKind device, uint64_t features,
                           bool indirect)
    : ram_(ram),
      link_(link),
      device_(device),
      features_(features | feature_bit(kFeatureRingPacked)),
      event_idx_((features >> kFeatureEventIdx) & 1),
      indirect_(indirect) {}

uint64_t PackedDriver::records_written() const { return link_.records(); }

// Zeroed descriptors read as "not available" at wrap counter 1 and the zeroed event areas as
// ENABLE: the state of a ring nothing was placed on yet.
void PackedDriver::clear_ring(Queue& q) {
  const uint16_t n = q.setup.size;
  std::memset(ram_.host(q.ring, kDescSize * n), 0, kDescSize * n);
  std::memset(ram_.host(q.driver_area, kEventAreaSize), 0, kEventAreaSize);
  std::memset(ram_.host(q.device_area, kEventAreaSize), 0, kEventAreaSize);
  q.next_avail = q.next_used = PackedPosition{};
  q.descs_in_flight = 0;
  q.free_ids.clear();
  for (uint16_t i = 0; i < n; ++i) q.free_ids.push_back(i);
  q.completed.clear();
}

bool PackedDriver::add_queue(uint16_t size, Arena& ring_arena, Arena data_arena,
                             std::string& error) {
  Queue q;
  q.setup.size = size;
  // VIRTIO "Packed Virtqueues", "Structure Size and Alignment": descriptor ring 16, event
  // suppression areas 4.
  auto ring = ring_arena.alloc(kDescSize * size, 16);
  auto driver_area = ring_arena.alloc(kEventAreaSize, 4);
  auto device_area = ring_arena.alloc(kEventAreaSize, 4);
  if (!ring || !driver_area || !device_area) {
    error = fmt::format("queue {}: no room for a packed ring of size {} in guest memory",
                        queues_.size(), size);
    return false;
  }
  q.ring = *ring;
  q.driver_area = *driver_area;
  q.device_area = *device_area;
  clear_ring(q);
  // Spec "Vring address description": for packed rings the avail address is the driver area
  // and the used address the device area.
  q.setup.addr.index = static_cast<uint32_t>(queues_.size());
  q.setup.addr.desc_user_addr = ram_.uva(q.ring);
  q.setup.addr.avail_user_addr = ram_.uva(q.driver_area);
  q.setup.addr.used_user_addr = ram_.uva(q.device_area);
  q.data = std::move(data_arena);
  if (!make_queue_notifiers(q.kick, q.call, q.setup, error)) return false;
  queues_.push_back(std::move(q));
  return true;
}

bool PackedDriver::reset_queues(std::string& error) {
  for (Queue& q : queues_) {
    for (auto& entry : q.inflight)
      for (uint64_t b : entry.second.buffers) q.data.release(b);
    q.inflight.clear();
    clear_ring(q);
    if (!make_queue_notifiers(q.kick, q.call, q.setup, error)) return false;
  }
  return true;
}

std::string PackedDriver::vring_base_fault(unsigned queue, uint32_t base) const {
  // Spec "Vring descriptor indices for packed virtqueues": bits 0-14 the next descriptor the
  // back-end reads, bit 15 its wrap counter. It lies between the driver's used position and its
  // next avail position: at most the descriptors in flight behind the latter.
  const Queue& q = queues_[queue];
  const PackedPosition at{static_cast<uint16_t>(base & 0x7fff), ((base >> 15) & 1u) != 0};
  const PackedPosition to = q.next_avail;
  std::optional<uint32_t> behind;
  if (at.index < q.setup.size) {
    if (at.wrap == to.wrap && at.index <= to.index)
      behind = static_cast<uint32_t>(to.index - at.index);
    if (at.wrap != to.wrap && at.index >= to.index)
      behind = uint32_t{to.index} + q.setup.size - at.index;
  }
  if (behind && *behind <= q.descs_in_flight) return {};
  return fmt::format(
      "queue {}: GET_VRING_BASE returned 0x{:x} (desc {} wrap {}), not within the {} "
      "descriptors in flight before next avail desc {} wrap {}",
      queue, base, at.index, at.wrap ? 1 : 0, q.descs_in_flight, to.index, to.wrap ? 1 : 0);
}

bool PackedDriver::device_wants_kick(const Queue& q, uint32_t added) const {
  const uint8_t* area = ram_.host(q.device_area, kEventAreaSize);
  const uint16_t flags = load_shared_u16(area + kEventFlags);
  if (flags == kPackedEventDisable) return false;
  if (flags != kPackedEventDesc || !event_idx_) return true;
  // VIRTIO "Event Suppression Structure Format": the device asks for a kick once the descriptor
  // at off_wrap was made available. Counted like the split ring's avail_event, with an offset
  // of the other lap taken one ring size back.
  const uint16_t off_wrap = load_shared_u16(area + kEventOffWrap);
  auto event = static_cast<uint16_t>(off_wrap & 0x7fff);
  if (((off_wrap >> 15) != 0) != q.next_avail.wrap)
    event = static_cast<uint16_t>(event - q.setup.size);
  const uint16_t now = q.next_avail.index;
  const uint16_t old = static_cast<uint16_t>(now - added);
  return static_cast<uint16_t>(now - event - 1) < static_cast<uint16_t>(now - old);
}

Outcome<std::vector<uint64_t>> PackedDriver::post(unsigned queue,
                                                  std::span<const ChainRequest> chains) {
  using R = Outcome<std::vector<uint64_t>>;
  if (queue >= queues_.size())
    return R::fail(fmt::format("queue {}: the device has {} queues", queue, queues_.size()));
  Queue& q = queues_[queue];
  auto buffers_of = [](const ChainRequest& c) {
    return c.readable.size() + c.writable_sizes.size();
  };
  auto in_table = [&](const ChainRequest& c) { return indirect_ && buffers_of(c) >= 2; };
  size_t need = 0;
  for (const ChainRequest& c : chains) need += in_table(c) ? 1 : buffers_of(c);
  const size_t free = q.setup.size - q.descs_in_flight;
  if (need > free)
    return R::fail(fmt::format("queue {}: {} descriptors needed, {} free", queue, need, free));

  // Buffers first, so nothing is placed when guest memory runs out.
  std::vector<std::vector<uint64_t>> blocks(chains.size());
  for (size_t i = 0; i < chains.size(); ++i) {
    auto add = [&](uint64_t bytes) {
      auto gpa = q.data.alloc(bytes, 64);
      if (gpa) blocks[i].push_back(*gpa);
      return gpa.has_value();
    };
    bool ok = true;
    for (const auto& r : chains[i].readable) ok = ok && add(r.size());
    for (uint32_t w : chains[i].writable_sizes) ok = ok && add(w);
    if (in_table(chains[i])) ok = ok && add(kDescSize * buffers_of(chains[i]));  // last block
    if (!ok) {
      for (auto& list : blocks)
        for (uint64_t b : list) q.data.release(b);
      return R::fail(fmt::format("queue {}: no room for the buffers in guest memory", queue));
    }
  }

  // With nothing in flight the device owns no descriptor: a used entry at the used position
  // (a second completion, say) would be overwritten by this post and never seen, so it is
  // caught here.
  if (q.descs_in_flight == 0 && used_at_next(q)) {
    const uint8_t* d = ram_.host(q.ring + kDescSize * q.next_used.index, kDescSize);
    for (auto& list : blocks)
      for (uint64_t b : list) q.data.release(b);
    record_snapshot(queue);
    return R::fail(unexpected_id_text(queue, q, load_le16(d + kDescId)));
  }

  std::vector<uint64_t> tokens;
  uint8_t* ring = ram_.host(q.ring, kDescSize * q.setup.size);
  uint32_t added = 0;
  for (size_t i = 0; i < chains.size(); ++i) {
    const ChainRequest& c = chains[i];
    // A buffer id per chain (VIRTIO "Packed Virtqueue Descriptor": the device echoes it in the
    // used descriptor). There are as many ids as descriptors, so one is always free here.
    const uint16_t id = q.free_ids.front();
    q.free_ids.pop_front();
    InFlight f;
    f.token = next_token_++;
    f.buffers = blocks[i];
    const size_t n = buffers_of(c);
    const bool indirect = in_table(c);
    f.ring_descs = static_cast<uint16_t>(indirect ? 1 : n);
    // Indirect: the buffers fill a table read in order (VIRTIO "Indirect Flag: Scatter-Gather
    // Support" of packed rings: no NEXT inside it), and one ring descriptor points at it.
    uint8_t* table = indirect ? ram_.host(blocks[i].back(), kDescSize * n) : nullptr;
    const PackedPosition head = q.next_avail;
    uint16_t head_flags = 0;
    for (size_t k = 0; k < n; ++k) {
      const bool writable = k >= c.readable.size();
      const uint64_t gpa = blocks[i][k];
      uint32_t len = 0;
      if (!writable) {
        const auto& bytes = c.readable[k];
        ram_.write(gpa, bytes);
        len = static_cast<uint32_t>(bytes.size());
      } else {
        len = c.writable_sizes[k - c.readable.size()];
        // Poison what the device should overwrite, so stale bytes cannot pass a compare.
        std::memset(ram_.host(gpa, len), 0xA5, len);
        f.writable_gpa.push_back(gpa);
        f.writable_size.push_back(len);
        f.writable_total += len;
      }
      const uint16_t kind = writable ? kDescWrite : 0;
      if (indirect) {
        uint8_t* d = table + kDescSize * k;
        store_le<uint64_t>(d, gpa);
        store_le<uint32_t>(d + kDescLen, len);
        store_le<uint16_t>(d + kDescId, 0);
        store_le<uint16_t>(d + kDescFlags, kind);
        continue;
      }
      // The id goes in every descriptor of the chain (the device reads it from the last one).
      const PackedPosition at = advance(head, static_cast<uint32_t>(k), q.setup.size);
      const uint16_t flags =
          static_cast<uint16_t>(kind | (k + 1 < n ? kDescNext : 0) | avail_flags(at.wrap));
      uint8_t* d = ring + kDescSize * at.index;
      store_le<uint64_t>(d, gpa);
      store_le<uint32_t>(d + kDescLen, len);
      store_le<uint16_t>(d + kDescId, id);
      if (k == 0)
        head_flags = flags;
      else
        store_shared_u16(d + kDescFlags, flags);
    }
    uint8_t* h = ring + kDescSize * head.index;
    if (indirect) {
      store_le<uint64_t>(h, blocks[i].back());
      store_le<uint32_t>(h + kDescLen, static_cast<uint32_t>(kDescSize * n));
      store_le<uint16_t>(h + kDescId, id);
      head_flags = static_cast<uint16_t>(kDescIndirect | avail_flags(head.wrap));
    }
    // VIRTIO "Implementation Example" of packed rings: the first descriptor's flags are written
    // last, so the device never sees a chain that is only partly there.
    store_shared_u16(h + kDescFlags, head_flags);
    q.next_avail = advance(head, f.ring_descs, q.setup.size);
    q.descs_in_flight += f.ring_descs;
    added += f.ring_descs;
    q.completed.erase(id);
    tokens.push_back(f.token);
    q.inflight[id] = std::move(f);
  }
  // The flags are published before the device's area is read (VIRTIO "Notifying The Device").
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (added > 0 && device_wants_kick(q, added)) {
    const uint64_t one = 1;
    if (::write(q.kick.get(), &one, sizeof one) != sizeof one)
      return R::fail(fmt::format("queue {}: cannot kick: {}", queue, std::strerror(errno)));
    ++q.kicks;
  }
  return R::ok(std::move(tokens));
}

void PackedDriver::kick(unsigned queue) {
  const uint64_t one = 1;
  if (::write(queues_[queue].kick.get(), &one, sizeof one) == sizeof one) ++queues_[queue].kicks;
}

bool PackedDriver::used_at_next(const Queue& q) const {
  // VIRTIO "Packed Virtqueues", "Used Descriptors": the descriptor at the used position is used
  // once its AVAIL and USED bits both equal the used wrap counter.
  const uint8_t* ring = ram_.host(q.ring, kDescSize * q.setup.size);
  const uint16_t flags = load_shared_u16(ring + kDescSize * q.next_used.index + kDescFlags);
  const bool avail = (flags & kPackedDescAvail) != 0, used = (flags & kPackedDescUsed) != 0;
  return avail == q.next_used.wrap && used == q.next_used.wrap;
}

std::string PackedDriver::unexpected_id_text(unsigned queue, const Queue& q, uint16_t id) const {
  const bool again = q.completed.count(id) != 0;
  return fmt::format(
      "queue {}: used id {} {} (used descriptor at desc {} wrap {}, next avail desc {} wrap {})",
      queue, id, again ? "was completed twice (a duplicate used entry)" : "was not in flight",
      q.next_used.index, q.next_used.wrap ? 1 : 0, q.next_avail.index, q.next_avail.wrap ? 1 : 0);
}

std::string PackedDriver::ring_state_text(const Queue& q) const {
  const uint8_t* ring = ram_.host(q.ring, kDescSize * q.setup.size);
  const uint8_t* area = ram_.host(q.device_area, kEventAreaSize);
  const uint16_t there = load_shared_u16(ring + kDescSize * q.next_used.index + kDescFlags);
  return fmt::format(
      "next avail desc {} wrap {}, next used desc {} wrap {} with flags 0x{:04x}, device event "
      "flags {}",
      q.next_avail.index, q.next_avail.wrap ? 1 : 0, q.next_used.index, q.next_used.wrap ? 1 : 0,
      there,
      event_flags_text(load_shared_u16(area + kEventFlags), load_shared_u16(area + kEventOffWrap)));
}

Outcome<std::vector<ChainCompletion>> PackedDriver::wait_used(unsigned queue, size_t count,
                                                              std::chrono::milliseconds timeout) {
  using R = Outcome<std::vector<ChainCompletion>>;
  if (queue >= queues_.size())
    return R::fail(fmt::format("queue {}: the device has {} queues", queue, queues_.size()));
  Queue& q = queues_[queue];
  std::vector<ChainCompletion> out;
  const uint8_t* ring = ram_.host(q.ring, kDescSize * q.setup.size);
  uint8_t* driver_area = ram_.host(q.driver_area, kEventAreaSize);
  auto used_here = [&]() { return used_at_next(q); };
  const auto start = std::chrono::steady_clock::now();
  auto last_progress = start;
  while (out.size() < count) {
    while (out.size() < count && used_here()) {
      const uint8_t* d = ring + kDescSize * q.next_used.index;
      const uint16_t id = load_le16(d + kDescId);
      // VIRTIO "Element Address and Length" of packed rings: the length of a used descriptor
      // without WRITE is reserved and ignored by drivers (DPDK leaves the driver's there).
      const bool wrote = (load_le16(d + kDescFlags) & kDescWrite) != 0;
      const uint32_t len = wrote ? load_le32(d + kDescLen) : 0;
      const PackedPosition at = q.next_used;
      auto it = q.inflight.find(id);
      if (it == q.inflight.end()) {
        record_snapshot(queue);
        return R::fail(unexpected_id_text(queue, q, id));
      }
      // VIRTIO "Used Descriptors": with WRITE, len is the bytes written into the buffer.
      if (len > it->second.writable_total) {
        record_snapshot(queue);
        return R::fail(fmt::format(
            "queue {}: used id {} len {} is beyond the chain's {} writable bytes (used descriptor "
            "at desc {} wrap {}, next avail desc {} wrap {})",
            queue, id, len, it->second.writable_total, at.index, at.wrap ? 1 : 0,
            q.next_avail.index, q.next_avail.wrap ? 1 : 0));
      }
      ChainCompletion c;
      c.token = it->second.token;
      c.used_len = len;
      c.written = read_written(ram_, it->second.writable_gpa, it->second.writable_size);
      // The device skips the buffer's other descriptors: its next used descriptor is after all
      // of them (VIRTIO "Packed Virtqueues", "Used Descriptors").
      q.next_used = advance(q.next_used, it->second.ring_descs, q.setup.size);
      q.descs_in_flight -= it->second.ring_descs;
      for (uint64_t b : it->second.buffers) q.data.release(b);
      q.inflight.erase(it);
      q.completed.insert(id);
      q.free_ids.push_back(id);
      out.push_back(std::move(c));
      last_progress = std::chrono::steady_clock::now();
    }
    if (out.size() >= count) break;
    // VIRTIO "Event Suppression Structure Format": with event idx, a call is asked for exactly
    // when the descriptor at the used position is used; without, for every used buffer.
    if (event_idx_) {
      store_shared_u16(driver_area + kEventOffWrap, q.next_used.encoded());
      store_shared_u16(driver_area + kEventFlags, kPackedEventDesc);
    } else {
      store_shared_u16(driver_area + kEventFlags, kPackedEventEnable);
    }
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (used_here()) continue;
    const auto now = std::chrono::steady_clock::now();
    if (now - last_progress >= kStallSampleInterval &&
        sample_due(q.last_sample, now, kStallSampleInterval))
      record_snapshot(queue);
    if (now - last_progress >= timeout) {
      record_snapshot(queue);
      return R::timed_out(
          fmt::format("queue {}: no completion for {} ({} of {} chains still in "
                      "flight; {})",
                      queue, seconds_text(timeout), count - out.size(), count, ring_state_text(q)));
    }
    await_call(q.call.get(), std::chrono::duration_cast<std::chrono::milliseconds>(
                                 timeout - (now - last_progress)));
    link_.service_backend_channel();
  }
  if (sample_due(q.last_sample, std::chrono::steady_clock::now(), kSampleInterval))
    record_snapshot(queue);
  return R::ok(std::move(out));
}

RingSnapshot PackedDriver::snapshot(unsigned queue, std::optional<uint32_t> vring_base) const {
  return queue_snapshot(ram_, queue, queues_[queue].setup, features_, device_, vring_base);
}

void PackedDriver::record_snapshot(unsigned queue, std::optional<uint32_t> vring_base) {
  link_.record_ring_state(encode_ring_snapshot(snapshot(queue, vring_base)));
}

}  // namespace vhs::exercise
