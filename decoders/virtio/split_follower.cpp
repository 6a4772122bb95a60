// Following a split ring across samples (see split_follower.hpp).
#include "decoders/virtio/split_follower.hpp"

#include <algorithm>
#include <limits>
#include <span>

#include <fmt/format.h>

#include "decoders/virtio/split_ring.hpp"

namespace vhs {

namespace {

// A busy ring moves while the cut is taken; after this many tries the cut waits for the next call.
constexpr int kCutTries = 3;
// Chains walked per cut, so that a cut costs little whatever the ring holds.
constexpr size_t kMaxWalksPerCut = 64;

struct Cut {
  uint16_t avail = 0, used = 0;
};

enum class CutResult { Ok, Busy, Unreadable };

CutResult take_cut(const GuestMemoryView& mem, const RingLocation& loc, Cut& cut) {
  for (int i = 0; i < kCutTries; ++i) {
    const auto used_before = read_le16(mem, loc.device + 2);
    const auto avail = read_le16(mem, loc.driver + 2);
    const auto used_after = read_le16(mem, loc.device + 2);
    if (!used_before || !avail || !used_after) return CutResult::Unreadable;
    if (*used_before == *used_after) {
      cut = {*avail, *used_before};
      return CutResult::Ok;
    }
  }
  return CutResult::Busy;
}

// True when a ring index read now is less than a lap past `from`: the slots of the positions
// from `from` on that were read before cannot have been rewritten yet (the writer fills the slot
// of position p + size only once its index reached p + size).
bool within_lap(const GuestMemoryView& mem, uint64_t index_gpa, uint16_t from, uint16_t size) {
  const auto now = read_le16(mem, index_gpa);
  return now && static_cast<uint16_t>(*now - from) < size;
}

// Copies the `count` ring slots of `elem` bytes from free-running position `from` on (at most two
// reads: the run may wrap past the ring's end).
bool read_slots(const GuestMemoryView& mem, uint64_t ring, size_t elem, uint16_t from,
                uint16_t count, uint16_t size, std::vector<uint8_t>& out) {
  out.resize(elem * count);
  const uint16_t first = static_cast<uint16_t>(from & (size - 1u));  // sizes are powers of two
  const uint16_t head_run = std::min<uint16_t>(count, static_cast<uint16_t>(size - first));
  const std::span<uint8_t> all(out);
  return mem.read(ring + elem * first, all.first(elem * head_run)) &&
         (head_run == count || mem.read(ring, all.subspan(elem * head_run)));
}

}  // namespace

std::string used_entry_fault_text(const RingFault& f) {
  if (f.kind == RingFaultKind::UsedLenBeyondChain)
    return fmt::format("used ring entry {} gives head {} len {}; its chain has {} device-writable "
                       "bytes",
                       f.index, f.head, f.value >> 32, f.value & 0xffffffffu);
  return fmt::format("used ring entry {} names head {}, which was not in flight (used {} more "
                     "time{} than made available)",
                     f.index, f.head, f.value, f.value == 1 ? "" : "s");
}

void SplitRingFollower::reset() { synced_ = false; }

void SplitRingFollower::forget_all(uint16_t size) {
  heads_.assign(size, HeadKnowledge{});
  interval_.assign(size, Interval{});
}

void SplitRingFollower::learn_idle() {
  for (HeadKnowledge& k : heads_) k = HeadKnowledge{0, 0, std::nullopt};
}

void SplitRingFollower::follow(const GuestMemoryView& mem, const RingLocation& loc,
                               RingScratch& scratch, std::vector<RingFault>& faults) {
  const uint16_t n = loc.size;
  if (loc.type != RingType::Split || !loc.readable() || n == 0) {
    synced_ = false;
    return;
  }
  Cut cut;
  switch (take_cut(mem, loc, cut)) {
    case CutResult::Ok: break;
    case CutResult::Busy: return;  // the next cut covers this interval too
    case CutResult::Unreadable: synced_ = false; return;
  }
  auto resync = [&] {
    synced_ = true;
    avail_seen_ = cut.avail;
    used_seen_ = cut.used;
    forget_all(n);
    if (cut.avail == cut.used) learn_idle();
  };
  // More in flight than the ring holds: IndexAhead, which the snapshot reports.
  if (static_cast<uint16_t>(cut.avail - cut.used) > n) {
    synced_ = false;
    return;
  }
  if (!synced_ || heads_.size() != n) return resync();
  const uint16_t published = static_cast<uint16_t>(cut.avail - avail_seen_);
  const uint16_t used = static_cast<uint16_t>(cut.used - used_seen_);
  if (published >= n || used >= n) return resync();  // a lap since the last cut: slots are gone

  // Only the new entries are read (a follow may run at every notification).
  if (!read_slots(mem, loc.driver + 4, 2, avail_seen_, published, n, avail_buf_) ||
      !read_slots(mem, loc.device + 4, 8, used_seen_, used, n, used_buf_)) {
    synced_ = false;
    return;
  }
  if (!within_lap(mem, loc.driver + 2, avail_seen_, n) ||
      !within_lap(mem, loc.device + 2, used_seen_, n))
    return resync();

  touched_.clear();
  auto touch = [&](uint16_t h) {
    Interval& iv = interval_[h];
    if (iv.published == 0 && iv.used == 0) touched_.push_back(h);
    return &iv;
  };
  for (uint16_t i = 0; i < published; ++i) {
    const uint16_t h = load_le16(avail_buf_.data() + 2 * size_t{i});
    if (h >= n) return resync();  // HeadOutOfRange: the snapshot reports it
    ++touch(h)->published;
  }
  for (uint16_t i = 0; i < used; ++i) {
    const uint16_t pos = static_cast<uint16_t>(used_seen_ + i);
    const uint8_t* e = used_buf_.data() + 8 * size_t{i};
    const uint32_t id = load_le32(e);
    if (id >= n) return resync();  // UsedIdOutOfRange: the snapshot reports it
    Interval* iv = touch(static_cast<uint16_t>(id));
    if (iv->used++ == 0) {
      iv->first_use = pos;
      iv->first_len = load_le32(e + 4);
    }
    iv->last_use = pos;
  }

  for (uint16_t h : touched_) {
    HeadKnowledge& k = heads_[h];
    Interval& iv = interval_[h];
    if (iv.used > 0) {
      // The first use after a cut that knew the head in flight completes that buffer.
      if (k.writable && iv.first_len > *k.writable)
        push_fault(faults, {RingFaultKind::UsedLenBeyondChain, ChainError::None, h, iv.first_use,
                            (uint64_t{iv.first_len} << 32) | *k.writable});
      k.writable.reset();
    }
    const int lo = k.lo + iv.published - iv.used;
    const int hi = k.hi + iv.published - iv.used;
    if (hi < 0) {
      push_fault(faults, {RingFaultKind::UsedNotInFlight, ChainError::None, h, iv.last_use,
                          static_cast<uint64_t>(-hi)});
      k = HeadKnowledge{};
    } else if (lo > 1) {
      k = HeadKnowledge{};  // made available again while in flight: the driver's fault
    } else {
      k.lo = static_cast<int8_t>(std::max(lo, 0));
      k.hi = static_cast<int8_t>(std::min(hi, 1));
    }
  }
  avail_seen_ = cut.avail;
  used_seen_ = cut.used;
  if (cut.avail == cut.used) learn_idle();
  walk_in_flight(mem, loc, scratch, cut.used);
  for (uint16_t h : touched_) interval_[h] = Interval{};
}

void SplitRingFollower::walk_in_flight(const GuestMemoryView& mem, const RingLocation& loc,
                                       RingScratch& scratch, uint16_t used_idx) {
  walked_.clear();
  for (uint16_t h : touched_) {
    if (walked_.size() == kMaxWalksPerCut) break;
    const HeadKnowledge& k = heads_[h];
    if (k.lo != 1 || k.hi != 1 || k.writable) continue;
    walk_split_chain(mem, loc, h, scratch.chain, &scratch);
    if (scratch.chain.error != ChainError::None) continue;  // the snapshot judges chains
    const uint64_t w = scratch.chain.writable_bytes;
    walked_.push_back(
        {h, static_cast<uint32_t>(std::min<uint64_t>(w, std::numeric_limits<uint32_t>::max()))});
  }
  if (walked_.empty()) return;
  // A head the device used since the cut may already hold another chain: drop its walk.
  const auto used_now = read_le16(mem, loc.device + 2);
  if (!used_now) return;
  const uint16_t since = static_cast<uint16_t>(*used_now - used_idx);
  if (since >= loc.size) return;
  std::vector<SplitUsedElem> recent;
  if (!read_split_used(mem, loc, *used_now, since, recent) ||
      !within_lap(mem, loc.device + 2, used_idx, loc.size))
    return;
  for (const auto& walked : walked_) {
    // Not a structured binding: clang 14 (the fuzz build) cannot capture one in a lambda.
    const uint16_t h = walked.first;
    const bool used_since = std::any_of(recent.begin(), recent.end(),
                                        [h](const SplitUsedElem& e) { return e.id == h; });
    if (!used_since) heads_[h].writable = walked.second;
  }
}

}  // namespace vhs
