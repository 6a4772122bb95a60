// Replays a Store session into a ConformanceChecker.
#include "app/common/check_session.hpp"

namespace vhs {

namespace {

ConformanceChecker::Options checker_options(const StoreSession& s) {
  ConformanceChecker::Options options;
  options.device = s.state().device_from_user ? s.state().device : DeviceKind::Unknown;
  options.seen_from_start = s.connect_entry != kNoEntry;
  return options;
}

}  // namespace

StoreSessionReplay::StoreSessionReplay(const Store& store, size_t session_index)
    : session_index_(session_index),
      checker_(checker_options(store.sessions()[session_index])),
      next_(store.sessions()[session_index].first_entry) {}

bool StoreSessionReplay::advance(const Store& store, size_t budget) {
  const StoreSession& s = store.sessions()[session_index_];
  for (; budget > 0 && next_ <= s.last_entry && next_ < store.size(); ++next_, --budget) {
    const uint32_t i = next_;
    // Most records of a busy capture are notifications, which the checker does not read: the
    // kind and session are read from the index before an entry is assembled.
    const RecordKind kind = store.kind(i);
    if (kind != RecordKind::Message && kind != RecordKind::RingState &&
        kind != RecordKind::Disconnect)
      continue;
    if (store.session_index(i) != session_index_) continue;
    const StoreEntry& e = store.entry(i);
    switch (e.kind) {
      case RecordKind::Message: {
        const DecodedMessage msg = store.decoded(i);
        // What the recorder did not pass on was never seen by the peer (as the Store does).
        const uint16_t not_sent = e.record_flags & (kRecordNotRelayed | kRecordInjected);
        const bool withheld = (msg.is_reply && not_sent == (kRecordNotRelayed | kRecordInjected)) ||
                              not_sent == kRecordNotRelayed;
        if (!withheld) checker_.on_message(i, e.timestamp_ns, e.direction, msg, store.fds(i));
        break;
      }
      case RecordKind::RingState:
        if (auto snap = decode_ring_snapshot(store.bytes(i)))
          checker_.on_ring_state(i, e.timestamp_ns, *snap);
        break;
      case RecordKind::Disconnect:
        if (e.channel == Channel::Frontend)
          checker_.finish(e.timestamp_ns, (e.record_flags & kRecordClosedByProxy)
                                              ? SessionAnalyser::End::RecorderStopped
                                              : SessionAnalyser::End::PeerClosed);
        break;
      default: break;
    }
  }
  return next_ > s.last_entry || next_ >= store.size();
}

SessionCheck StoreSessionReplay::result(const Store& store) {
  checker_.finish(store.last_timestamp(), SessionAnalyser::End::CaptureCut);
  return {checker_.violations(), checker_.lifecycle()};
}

SessionCheck check_store_session(const Store& store, const StoreSession& s) {
  if (s.checker) {
    // Fed on ingest: finish a copy, so the store's checker goes on with later records.
    ConformanceChecker checker = *s.checker;
    checker.finish(store.last_timestamp(), SessionAnalyser::End::CaptureCut);
    return {checker.violations(), checker.lifecycle()};
  }
  StoreSessionReplay replay(store, static_cast<size_t>(&s - store.sessions().data()));
  replay.advance(store, SIZE_MAX);
  return replay.result(store);
}

}  // namespace vhs
