// Ring picture view-model: cell states, hands and in-flight chains of recorded ring states.
#include "app/common/view_ring_picture.hpp"

#include <algorithm>
#include <map>

namespace vhs::view {
namespace {

// Ring states decoded while looking back for each queue's newest state or a chain's start. A
// capture sampled every 50 ms for an hour holds 72 000 states a queue; the walk stops here and
// says the age is a lower bound.
constexpr size_t kMaxWalk = 4096;

// Packed rings keep the position in bits 0-14 and the wrap counter in bit 15 (spec "Vring
// descriptor indices for packed virtqueues").
uint32_t packed_position(uint16_t index, uint16_t size) { return (index & 0x7fffu) % size; }

void mark(std::vector<CellState>& cells, uint32_t at, CellState state) {
  if (at < cells.size() && cells[at] < state) cells[at] = state;
}

void fill_split(QueuePicture& q) {
  const RingSnapshot& s = q.snapshot;
  const uint16_t size = s.size;
  q.avail_hand = s.avail_idx % size;
  q.used_hand = s.used_idx % size;
  // Avail ring entries [used idx, avail idx) are in flight; with the vring base known, the newest
  // `pending` of them were not fetched yet (spec "Ring states": last_avail_idx).
  const uint32_t inflight = std::min<uint32_t>(s.inflight, size);
  const uint32_t pending = std::min(s.pending.value_or(0), inflight);
  for (uint32_t k = 0; k < inflight; ++k)
    mark(q.positions, (s.used_idx + k) % size,
         k >= inflight - pending ? CellState::Available : CellState::InFlight);
  // With EVENT_IDX the driver publishes in used_event how far it has consumed the used ring when
  // it re-arms interrupts: the used entries after it are completed and not yet consumed.
  if (s.event_idx) {
    const uint32_t unconsumed = static_cast<uint16_t>(s.used_idx - s.used_event);
    if (unconsumed <= size) {
      q.used_unconsumed = unconsumed;
      for (uint32_t k = 0; k < unconsumed; ++k)
        mark(q.positions, (s.used_event + k) % size, CellState::Used);
    }
  }
  const size_t fetched = s.inflight > pending ? s.inflight - pending : 0;
  for (size_t i = 0; i < s.heads.size(); ++i)
    mark(q.descriptors, s.heads[i], i < fetched ? CellState::InFlight : CellState::Available);
}

void fill_packed(QueuePicture& q) {
  const RingSnapshot& s = q.snapshot;
  const uint16_t size = s.size;
  q.avail_hand = packed_position(s.avail_idx, size);
  q.used_hand = packed_position(s.used_idx, size);
  // The descriptors from the device's next used position to the driver's next avail position
  // are in flight; equal positions mean empty with equal wrap counters, full otherwise.
  const bool same_wrap = ((s.avail_idx ^ s.used_idx) & 0x8000u) == 0;
  uint32_t span = (q.avail_hand + size - q.used_hand) % size;
  if (span == 0 && !same_wrap) span = size;
  for (uint32_t k = 0; k < span; ++k)
    mark(q.positions, (q.used_hand + k) % size, CellState::InFlight);
  for (uint16_t id : s.heads) mark(q.descriptors, id, CellState::InFlight);
}

std::string chain_detail(const RingSnapshot& s, size_t i, const DetailContext& ctx) {
  const uint16_t head = s.heads[i];
  for (const ChainHead& h : s.chain_heads)
    if (h.head == head) return describe_buffer(summarize_chain_head(h, ctx));
  if (i == 0 && s.oldest && s.oldest->head == head) return describe_buffer(*s.oldest);
  return {};
}

bool lists_head(const RingSnapshot& s, uint16_t head) {
  return std::find(s.heads.begin(), s.heads.end(), head) != s.heads.end();
}

// How long each chain of `q` has been in flight: walks back over the queue's earlier ring states
// while they still list it.
void date_chains(const Store& store, std::span<const uint32_t> states, size_t position,
                 QueuePicture& q) {
  std::vector<bool> open(q.chains.size(), true);
  size_t still_open = q.chains.size();
  size_t walked = 0;
  for (size_t k = position; k-- > 0 && still_open > 0;) {
    if (++walked > kMaxWalk) break;
    const auto earlier = decode_ring_snapshot(store.bytes(states[k]));
    if (!earlier || earlier->queue != q.queue) continue;
    const uint64_t t = store.entry(states[k]).timestamp_ns;
    for (size_t c = 0; c < q.chains.size(); ++c) {
      if (!open[c]) continue;
      if (lists_head(*earlier, q.chains[c].head)) {
        q.chains[c].since_ns = t;
      } else {
        open[c] = false;
        --still_open;
      }
    }
  }
  // Still listed by the first ring state looked at: in flight since before it.
  for (size_t c = 0; c < q.chains.size(); ++c)
    if (open[c]) q.chains[c].at_least = true;
}

QueuePicture picture_of(const Store& store, std::span<const uint32_t> states, size_t position,
                        RingSnapshot snapshot) {
  QueuePicture q;
  q.entry = states[position];
  q.time_ns = store.entry(q.entry).timestamp_ns;
  q.queue = snapshot.queue;
  q.snapshot = std::move(snapshot);
  const RingSnapshot& s = q.snapshot;
  if (s.size > 0 && s.size <= kMaxQueueSize && s.indices_ok) {
    q.descriptors.assign(s.size, CellState::Free);
    q.positions.assign(s.size, CellState::Free);
    if (s.type == RingType::Split)
      fill_split(q);
    else
      fill_packed(q);
  }
  const SessionState& st = store.session_of(q.entry).state();
  const DetailContext ctx{st.device, s.queue, st.features.acked.value_or(0)};
  const uint32_t pending = std::min(s.pending.value_or(0), s.inflight);
  const size_t fetched = s.inflight - pending;
  for (size_t i = 0; i < s.heads.size(); ++i) {
    InFlightChain c;
    c.head = s.heads[i];
    c.fetched = s.type == RingType::Packed || i < fetched;
    c.detail = chain_detail(s, i, ctx);
    c.since_ns = q.time_ns;
    q.chains.push_back(std::move(c));
  }
  q.unlisted = s.inflight > s.heads.size() ? s.inflight - static_cast<uint32_t>(s.heads.size()) : 0;
  date_chains(store, states, position, q);
  return q;
}

}  // namespace

std::string_view cell_state_name(CellState s) {
  switch (s) {
    case CellState::Free: return "free";
    case CellState::Used: return "used";
    case CellState::Available: return "available";
    case CellState::InFlight: return "in flight";
  }
  return "?";
}

std::vector<uint32_t> session_ring_states(const Store& store, size_t session,
                                          std::span<const uint32_t> ring_records) {
  std::vector<uint32_t> out;
  for (uint32_t e : ring_records)
    if (e < store.size() && store.entry(e).session_index == session) out.push_back(e);
  return out;
}

size_t ring_state_at(std::span<const uint32_t> states, uint32_t entry) {
  const auto it = std::upper_bound(states.begin(), states.end(), entry);
  return it == states.begin() ? 0 : static_cast<size_t>(it - states.begin()) - 1;
}

RingPicture build_ring_picture(const Store& store, size_t session, std::span<const uint32_t> states,
                               size_t position) {
  RingPicture p;
  p.session = session;
  if (states.empty()) return p;
  p.position = std::min(position, states.size() - 1);
  p.entry = states[p.position];
  p.time_ns = store.entry(p.entry).timestamp_ns;
  // Every queue's newest state at or before the scrubber, found by walking back until each queue
  // the session ever sampled has one.
  const size_t queues = session < store.sessions().size()
                            ? std::max<size_t>(store.sessions()[session].rings.queues().size(), 1)
                            : 1;
  std::map<uint32_t, QueuePicture> found;
  size_t walked = 0;
  for (size_t k = p.position + 1; k-- > 0 && found.size() < queues && walked++ < kMaxWalk;) {
    auto snap = store.ring_snapshot(states[k]);
    if (!snap || found.count(snap->queue)) continue;
    const uint32_t queue = snap->queue;
    found.emplace(queue, picture_of(store, states, k, std::move(*snap)));
  }
  for (auto& [queue, q] : found) p.queues.push_back(std::move(q));
  return p;
}

std::vector<CellState> fold_cells(std::span<const CellState> cells, size_t max_segments) {
  if (max_segments == 0) return {};
  if (cells.size() <= max_segments) return {cells.begin(), cells.end()};
  std::vector<CellState> out(max_segments, CellState::Free);
  for (size_t i = 0; i < cells.size(); ++i) {
    CellState& seg = out[i * max_segments / cells.size()];
    seg = std::max(seg, cells[i]);
  }
  return out;
}

}  // namespace vhs::view
