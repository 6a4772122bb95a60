#include "proxy/exercise/split_driver.hpp"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "decoders/virtio/guest_memory.hpp"
#include "decoders/virtio/ring_detail.hpp"
#include "decoders/virtio/ring_snapshot.hpp"
#include "proxy/exercise/driver_parts.hpp"
#include "proxy/exercise/frontend_link.hpp"
#include "proxy/log_text.hpp"

namespace vhs::exercise {
namespace {

// VIRTIO "The Virtqueue Descriptor Table": addr u64, len u32, flags u16 (NEXT, WRITE as
// ring_detail.hpp names them), next u16.
constexpr uint64_t kDescSize = 16;
// Avail ring: flags u16, idx u16, ring[N] u16, used_event u16. Used ring: flags u16, idx u16,
// ring[N] {id u32, len u32}, avail_event u16.
constexpr uint64_t kUsedElemSize = 8;

uint64_t avail_bytes(uint16_t n) { return 4 + 2 * uint64_t{n} + 2; }
uint64_t used_bytes(uint16_t n) { return 4 + kUsedElemSize * n + 2; }

}  // namespace

SplitDriver::SplitDriver(GuestRam& ram, FrontendLink& link, DeviceKind device, uint64_t features,
                         bool indirect)
    : ram_(ram),
      link_(link),
      device_(device),
      features_(features),
      event_idx_((features >> kFeatureEventIdx) & 1),
      indirect_(indirect) {}

uint64_t SplitDriver::records_written() const { return link_.records(); }

bool SplitDriver::add_queue(uint16_t size, Arena& ring_arena, Arena data_arena,
                            std::string& error) {
  Queue q;
  q.setup.size = size;
  // VIRTIO "Virtqueue Alignment": descriptors 16, avail ring 2, used ring 4 bytes.
  auto desc = ring_arena.alloc(kDescSize * size, 16);
  auto avail = ring_arena.alloc(avail_bytes(size), 2);
  auto used = ring_arena.alloc(used_bytes(size), 4);
  if (!desc || !avail || !used) {
    error = fmt::format("queue {}: no room for a ring of size {} in guest memory", queues_.size(),
                        size);
    return false;
  }
  q.desc = *desc;
  q.avail = *avail;
  q.used = *used;
  std::memset(ram_.host(q.desc, kDescSize * size), 0, kDescSize * size);
  std::memset(ram_.host(q.avail, avail_bytes(size)), 0, avail_bytes(size));
  std::memset(ram_.host(q.used, used_bytes(size)), 0, used_bytes(size));
  q.setup.addr.index = static_cast<uint32_t>(queues_.size());
  q.setup.addr.desc_user_addr = ram_.uva(q.desc);
  q.setup.addr.avail_user_addr = ram_.uva(q.avail);
  q.setup.addr.used_user_addr = ram_.uva(q.used);
  q.data = std::move(data_arena);
  for (uint16_t i = 0; i < size; ++i) q.free.push_back(i);
  if (!make_queue_notifiers(q.kick, q.call, q.setup, error)) return false;
  queues_.push_back(std::move(q));
  return true;
}

bool SplitDriver::reset_queues(std::string& error) {
  for (Queue& q : queues_) {
    for (auto& [head, c] : q.inflight)
      for (uint64_t b : c.buffers) q.data.release(b);
    q.inflight.clear();
    q.completed.clear();
    q.free.clear();
    for (uint16_t i = 0; i < q.setup.size; ++i) q.free.push_back(i);
    q.avail_idx = q.last_used = 0;
    std::memset(ram_.host(q.desc, kDescSize * q.setup.size), 0, kDescSize * q.setup.size);
    std::memset(ram_.host(q.avail, avail_bytes(q.setup.size)), 0, avail_bytes(q.setup.size));
    std::memset(ram_.host(q.used, used_bytes(q.setup.size)), 0, used_bytes(q.setup.size));
    if (!make_queue_notifiers(q.kick, q.call, q.setup, error)) return false;
  }
  return true;
}

void SplitDriver::free_chain(Queue& q, uint16_t head) {
  auto it = q.inflight.find(head);
  if (it == q.inflight.end()) return;
  for (uint64_t b : it->second.buffers) q.data.release(b);
  for (uint16_t d : it->second.descs) q.free.push_back(d);
  q.inflight.erase(it);
  q.completed.insert(head);
}

Outcome<std::vector<uint64_t>> SplitDriver::post(unsigned queue,
                                                 std::span<const ChainRequest> chains) {
  using R = Outcome<std::vector<uint64_t>>;
  if (queue >= queues_.size())
    return R::fail(fmt::format("queue {}: the device has {} queues", queue, queues_.size()));
  Queue& q = queues_[queue];
  auto buffers_of = [](const ChainRequest& c) {
    return c.readable.size() + c.writable_sizes.size();
  };
  // An indirect chain takes one ring descriptor; its table comes from the data arena.
  auto in_table = [&](const ChainRequest& c) { return indirect_ && buffers_of(c) >= 2; };
  size_t need = 0;
  for (const ChainRequest& c : chains) need += in_table(c) ? 1 : buffers_of(c);
  if (need > q.free.size())
    return R::fail(
        fmt::format("queue {}: {} descriptors needed, {} free", queue, need, q.free.size()));

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

  std::vector<uint64_t> tokens;
  uint8_t* desc_table = ram_.host(q.desc, kDescSize * q.setup.size);
  uint8_t* avail = ram_.host(q.avail, avail_bytes(q.setup.size));
  for (size_t i = 0; i < chains.size(); ++i) {
    const ChainRequest& c = chains[i];
    InFlight f;
    f.token = next_token_++;
    f.buffers = blocks[i];
    const size_t n = buffers_of(c);
    const bool indirect = in_table(c);
    for (size_t k = 0; k < (indirect ? 1 : n); ++k) {
      f.descs.push_back(q.free.front());
      q.free.pop_front();
    }
    // Indirect: the chain's descriptors fill a table, chained by index inside it (VIRTIO
    // "Indirect Descriptors": no INDIRECT flag within it), and one ring descriptor points at it.
    uint8_t* table = indirect ? ram_.host(blocks[i].back(), kDescSize * n) : nullptr;
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
      uint8_t* d = indirect ? table + kDescSize * k : desc_table + kDescSize * f.descs[k];
      store_le<uint64_t>(d, gpa);
      store_le<uint32_t>(d + 8, len);
      store_le<uint16_t>(
          d + 12, static_cast<uint16_t>((k + 1 < n ? kDescNext : 0) | (writable ? kDescWrite : 0)));
      store_le<uint16_t>(d + 14,
                         k + 1 < n ? static_cast<uint16_t>(indirect ? k + 1 : f.descs[k + 1]) : 0);
    }
    if (indirect) {
      uint8_t* d = desc_table + kDescSize * f.descs.front();
      store_le<uint64_t>(d, blocks[i].back());
      store_le<uint32_t>(d + 8, static_cast<uint32_t>(kDescSize * n));
      store_le<uint16_t>(d + 12, kDescIndirect);
      store_le<uint16_t>(d + 14, 0);
    }
    const uint16_t head = f.descs.front();
    store_le<uint16_t>(avail + 4 + 2 * (q.avail_idx % q.setup.size), head);
    ++q.avail_idx;
    q.completed.erase(head);
    tokens.push_back(f.token);
    q.inflight[head] = std::move(f);
  }
  // VIRTIO "Updating the Index Field": entries before the index that publishes them.
  store_shared_u16(avail + 2, q.avail_idx);
  std::atomic_thread_fence(std::memory_order_seq_cst);
  const uint64_t one = 1;
  if (::write(q.kick.get(), &one, sizeof one) != sizeof one)
    return R::fail(fmt::format("queue {}: cannot kick: {}", queue, std::strerror(errno)));
  return R::ok(std::move(tokens));
}

std::string SplitDriver::vring_base_fault(unsigned queue, uint32_t base) const {
  // Spec "Ring states": the index is where the back-end resumes, between what it used and what
  // was made available.
  const Queue& q = queues_[queue];
  const uint16_t behind = static_cast<uint16_t>(q.avail_idx - static_cast<uint16_t>(base));
  if (base > 0xffff || behind > q.inflight.size())
    return fmt::format(
        "queue {}: GET_VRING_BASE returned {}, not within the {} chains in flight up to avail idx "
        "{}",
        queue, base, q.inflight.size(), q.avail_idx);
  // A back-end can only use what it took, so the ring it stopped cannot have used entries past
  // the index it resumes at. One whose worker went on after it read that index (a stale reply)
  // would, restarted there, take those requests again.
  const uint16_t used = used_idx_in_ring(queue);
  const uint16_t used_behind = static_cast<uint16_t>(q.avail_idx - used);
  if (used_behind < behind)
    return fmt::format(
        "queue {}: GET_VRING_BASE returned {}, but the back-end had already used up to idx {} "
        "(used ring): a stale index, restarting there would repeat {} request(s)",
        queue, base, used, behind - used_behind);
  return {};
}

uint16_t SplitDriver::used_idx_in_ring(unsigned queue) const {
  const Queue& q = queues_[queue];
  return load_shared_u16(ram_.host(q.used, used_bytes(q.setup.size)) + 2);
}

uint16_t SplitDriver::avail_event_in_ring(unsigned queue) const {
  const Queue& q = queues_[queue];
  return load_shared_u16(ram_.host(q.used, used_bytes(q.setup.size)) + 4 +
                         kUsedElemSize * q.setup.size);
}

void SplitDriver::kick(unsigned queue) {
  const uint64_t one = 1;
  (void)!::write(queues_[queue].kick.get(), &one, sizeof one);
}

Outcome<std::vector<ChainCompletion>> SplitDriver::wait_used(unsigned queue, size_t count,
                                                             std::chrono::milliseconds timeout) {
  using R = Outcome<std::vector<ChainCompletion>>;
  if (queue >= queues_.size())
    return R::fail(fmt::format("queue {}: the device has {} queues", queue, queues_.size()));
  Queue& q = queues_[queue];
  std::vector<ChainCompletion> out;
  const uint8_t* used = ram_.host(q.used, used_bytes(q.setup.size));
  uint8_t* avail = ram_.host(q.avail, avail_bytes(q.setup.size));
  const auto start = std::chrono::steady_clock::now();
  auto last_progress = start;
  while (out.size() < count) {
    // Each element is checked on its own: one past the chains in flight necessarily names a
    // head that is not in flight, which says more than a count would.
    const uint16_t used_idx = load_shared_u16(used + 2);
    while (q.last_used != used_idx && out.size() < count) {
      const uint8_t* e = used + 4 + kUsedElemSize * (q.last_used % q.setup.size);
      const uint32_t id = load_le32(e), len = load_le32(e + 4);
      const uint16_t at = q.last_used;
      ++q.last_used;
      // VIRTIO "The Virtqueue Used Ring": id is the head of a chain the driver made available,
      // len the bytes written into its device-writable buffers.
      auto it = id < q.setup.size ? q.inflight.find(static_cast<uint16_t>(id)) : q.inflight.end();
      if (it == q.inflight.end()) {
        record_snapshot(queue);
        const bool again = id < q.setup.size && q.completed.count(static_cast<uint16_t>(id));
        return R::fail(fmt::format(
            "queue {}: used id {} {} (used ring slot {}, avail idx {}, used idx {})", queue, id,
            again ? "was completed twice (a duplicate used entry)" : "was not in flight",
            at % q.setup.size, q.avail_idx, used_idx));
      }
      if (len > it->second.writable_total) {
        record_snapshot(queue);
        return R::fail(fmt::format(
            "queue {}: used id {} len {} is beyond the chain's {} writable bytes (avail idx {}, "
            "used idx {})",
            queue, id, len, it->second.writable_total, q.avail_idx, used_idx));
      }
      ChainCompletion c;
      c.token = it->second.token;
      c.used_len = len;
      c.written = read_written(ram_, it->second.writable_gpa, it->second.writable_size);
      free_chain(q, static_cast<uint16_t>(id));
      out.push_back(std::move(c));
      last_progress = std::chrono::steady_clock::now();
    }
    if (out.size() >= count) break;
    // VIRTIO "Used Buffer Notification Suppression": with event idx, ask for a call as soon as
    // the next entry is used.
    if (event_idx_) store_shared_u16(avail + 4 + 2 * uint64_t{q.setup.size}, q.last_used);
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (load_shared_u16(used + 2) != q.last_used) continue;
    const auto now = std::chrono::steady_clock::now();
    // While the device makes no progress the ring is sampled like the proxy samples it, so the
    // capture shows how long the work sat there (ring health reads stalls from these).
    if (now - last_progress >= kStallSampleInterval &&
        sample_due(q.last_sample, now, kStallSampleInterval))
      record_snapshot(queue);
    if (now - last_progress >= timeout) {
      record_snapshot(queue);
      return R::timed_out(fmt::format(
          "queue {}: no completion for {} ({} of {} chains still in flight, avail idx {}, used "
          "idx {})",
          queue, seconds_text(timeout), count - out.size(), count, q.avail_idx, q.last_used));
    }
    // Poll the call eventfd in slices: a device that suppresses or loses a call is still seen
    // through the used index.
    await_call(q.call.get(), std::chrono::duration_cast<std::chrono::milliseconds>(
                                 timeout - (now - last_progress)));
    link_.service_backend_channel();
  }
  if (sample_due(q.last_sample, std::chrono::steady_clock::now(), kSampleInterval))
    record_snapshot(queue);
  return R::ok(std::move(out));
}

RingSnapshot SplitDriver::snapshot(unsigned queue, std::optional<uint32_t> vring_base) const {
  return queue_snapshot(ram_, queue, queues_[queue].setup, features_, device_, vring_base);
}

void SplitDriver::record_snapshot(unsigned queue, std::optional<uint32_t> vring_base) {
  link_.record_ring_state(encode_ring_snapshot(snapshot(queue, vring_base)));
}

}  // namespace vhs::exercise
