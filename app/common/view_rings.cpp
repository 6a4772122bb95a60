// Session replay for the rings view's time slider.
#include "app/common/view_rings.hpp"

#include "captures/model/store.hpp"

namespace vhs::view {

void SessionReplay::reset() {
  analyser_ = SessionAnalyser{};
  session_ = SIZE_MAX;
  next_ = 0;
  position_ = UINT32_MAX;
}

bool SessionReplay::update(const Store& store, size_t session_index, uint32_t until,
                           size_t budget) {
  if (session_index >= store.sessions().size()) return false;
  const StoreSession& s = store.sessions()[session_index];
  if (s.first_entry == kNoEntry) return false;
  if (session_index != session_ || (position_ != UINT32_MAX && until < position_)) {
    reset();
    session_ = session_index;
    SessionAnalyser::Options opt;
    // Replays interpret messages the way ingest did: with the user's device kind if one was forced.
    if (s.state().device_from_user) opt.device = s.state().device;
    analyser_ = SessionAnalyser(opt);
    next_ = s.first_entry;
  }
  const uint32_t last = std::min<uint32_t>(until, s.last_entry);
  size_t fed = 0;
  while (next_ <= last && next_ < store.size() && fed < budget) {
    const uint32_t i = next_++;
    if (store.session_index(i) != session_index) continue;
    if (store.kind(i) == RecordKind::Message) {
      const StoreEntry e = store.entry(i);
      analyser_.on_message(i, e.timestamp_ns, e.direction, store.decoded(i), store.fds(i));
      ++fed;
    }
    position_ = i;
  }
  return next_ > last;
}

std::vector<uint32_t> session_entries(const Store& store, size_t session_index) {
  std::vector<uint32_t> out;
  if (session_index >= store.sessions().size()) return out;
  const StoreSession& s = store.sessions()[session_index];
  if (s.first_entry == kNoEntry) return out;
  out.reserve(s.entries);
  for (uint32_t i = s.first_entry; i <= s.last_entry && i < store.size(); ++i)
    if (store.session_index(i) == session_index) out.push_back(i);
  return out;
}

std::vector<uint32_t> ring_records_until(const Store& store, size_t session_index, uint32_t until) {
  std::vector<uint32_t> out;
  if (session_index >= store.sessions().size()) return out;
  const StoreSession& s = store.sessions()[session_index];
  if (s.first_entry == kNoEntry) return out;
  for (uint32_t i = s.first_entry; i <= s.last_entry && i <= until && i < store.size(); ++i) {
    if (store.session_index(i) == session_index && store.kind(i) == RecordKind::RingState)
      out.push_back(i);
  }
  return out;
}

}  // namespace vhs::view
