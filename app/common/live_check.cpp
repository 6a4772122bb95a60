// The live conformance check of `record --check`.
#include "app/common/live_check.hpp"

#include <fmt/format.h>

#include "app/common/text_format.hpp"
#include "decoders/virtio/ring_snapshot.hpp"

namespace vhs {

LiveCheck::LiveCheck(std::function<void(const std::string&)> print) : print_(std::move(print)) {}

void LiveCheck::report(uint32_t session, SessionCheck& s) {
  const auto& all = s.checker.violations();
  for (; s.printed < all.size(); ++s.printed) {
    const Violation& v = all[s.printed];
    const Rule& r = rule_info(v.rule);
    ++violations_;
    print_(fmt::format("check s{} {} {} {}: {} (spec \"{}\")", session, r.id, side_name(v.blamed),
                       record_number(v.message), escape_text(v.observed), r.section));
  }
}

void LiveCheck::on_record(const Record& record) {
  const MessageRef ref = next_ref_++;
  // A front-end connection starts a session from its beginning; records of a session joined
  // later (no Connect seen) are judged without the rules about what must come first.
  const bool starts = record.kind == RecordKind::Connect && record.channel == Channel::Frontend;
  auto it = sessions_.find(record.session);
  if (starts || it == sessions_.end()) {
    ConformanceChecker::Options options;
    options.seen_from_start = starts;
    it = sessions_.insert_or_assign(record.session, SessionCheck{ConformanceChecker(options), 0})
             .first;
  }
  SessionCheck& s = it->second;
  switch (record.kind) {
    case RecordKind::Message: {
      const DecodedMessage msg =
          decode_message(record.channel, record.bytes, record.fds, s.checker.decode_context());
      // What the recorder did not pass on was never seen by the peer (as the Store does).
      const uint16_t not_sent = record.flags & (kRecordNotRelayed | kRecordInjected);
      const bool withheld = (msg.is_reply && not_sent == (kRecordNotRelayed | kRecordInjected)) ||
                            not_sent == kRecordNotRelayed;
      if (!withheld)
        s.checker.on_message(ref, record.timestamp_ns, record.direction, msg, record.fds);
      break;
    }
    case RecordKind::RingState:
      if (auto snap = decode_ring_snapshot(record.bytes))
        s.checker.on_ring_state(ref, record.timestamp_ns, *snap);
      break;
    case RecordKind::Disconnect:
      if (record.channel == Channel::Frontend) {
        s.checker.finish(record.timestamp_ns, (record.flags & kRecordClosedByProxy)
                                                  ? SessionAnalyser::End::RecorderStopped
                                                  : SessionAnalyser::End::PeerClosed);
        report(record.session, s);
        sessions_.erase(it);
        return;
      }
      break;
    default: break;
  }
  report(record.session, s);
}

}  // namespace vhs
