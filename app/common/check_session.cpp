// Replays a Store session into a ConformanceChecker.
#include "app/common/check_session.hpp"

namespace vhs {

SessionCheck check_store_session(const Store& store, const StoreSession& s) {
  ConformanceChecker::Options options;
  options.device = s.state().device_from_user ? s.state().device : DeviceKind::Unknown;
  options.seen_from_start = s.connect_entry != kNoEntry;
  ConformanceChecker checker(options);
  for (uint32_t i = s.first_entry; i <= s.last_entry && i < store.size(); ++i) {
    // Most records of a busy capture are notifications, which the checker does not read: the
    // kind and session are read from the index before an entry is assembled.
    const RecordKind kind = store.kind(i);
    if (kind != RecordKind::Message && kind != RecordKind::RingState &&
        kind != RecordKind::Disconnect)
      continue;
    if (&store.session_of(i) != &s) continue;
    const StoreEntry& e = store.entry(i);
    switch (e.kind) {
      case RecordKind::Message: {
        const DecodedMessage msg = store.decoded(i);
        // What the recorder did not pass on was never seen by the peer (as the Store does).
        const uint16_t not_sent = e.record_flags & (kRecordNotRelayed | kRecordInjected);
        const bool withheld = (msg.is_reply && not_sent == (kRecordNotRelayed | kRecordInjected)) ||
                              not_sent == kRecordNotRelayed;
        if (!withheld) checker.on_message(i, e.timestamp_ns, e.direction, msg, store.fds(i));
        break;
      }
      case RecordKind::RingState:
        if (auto snap = decode_ring_snapshot(store.bytes(i)))
          checker.on_ring_state(i, e.timestamp_ns, *snap);
        break;
      case RecordKind::Disconnect:
        if (e.channel == Channel::Frontend)
          checker.finish(e.timestamp_ns, (e.record_flags & kRecordClosedByProxy)
                                             ? SessionAnalyser::End::RecorderStopped
                                             : SessionAnalyser::End::PeerClosed);
        break;
      default: break;
    }
  }
  checker.finish(store.last_timestamp(), SessionAnalyser::End::CaptureCut);
  return {checker.violations(), checker.lifecycle()};
}

}  // namespace vhs
