// Helpers shared by the split and packed ring readers (see ring_reading.hpp).
#include "decoders/virtio/ring_reading.hpp"

namespace vhs::ring_reading {

void fail(Chain& c, ChainError e, uint32_t at, uint64_t value) {
  c.error = e;
  c.error_at = at;
  c.error_value = value;
}

void keep_chain_head(const GuestMemoryView& mem, const Chain& chain, const RingLocation& loc,
                     size_t i, RingSnapshot& out) {
  if (i >= kSnapshotRawChains) return;
  // resize() reuses the snapshot's capacity: steady-state sampling does not allocate.
  out.chain_heads.resize(i + 1);
  capture_chain_head(mem, chain, out.chain_heads[i]);
  if (i == 0) out.oldest = summarize_chain_head(out.chain_heads[0], loc.detail);
}

void begin_snapshot(const RingLocation& loc, RingType type, RingSnapshot& out) {
  out.heads.clear();
  out.faults.clear();
  out.oldest.reset();
  out.chain_heads.clear();
  out.pending.reset();
  out.queue = loc.queue;
  out.type = type;
  out.size = loc.size;
  out.event_idx = loc.event_idx;
  out.vring_base = loc.vring_base;
  out.indices_ok = false;
  out.avail_idx = out.avail_flags = out.used_idx = out.used_flags = 0;
  out.used_event = out.avail_event = 0;
  out.inflight = 0;
  out.heads_approximate = false;
  for (const RingFault& f : loc.faults) push_fault(out.faults, f);
}

}  // namespace vhs::ring_reading
