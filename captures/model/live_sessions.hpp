// Live analysis for the recorder's own outputs (rotated files, flight-recorder windows): follows
// every session of a running recorder with the same session analyser and ring hang rules the
// Store uses, without keeping the records themselves, and answers two questions:
//   - which hang or error findings appear, and whether each is still going on (a request still
//     waiting, a ring still stalled), so a flight recorder knows when to write a window;
//   - which earlier records a file that starts mid-session must repeat so it reads on its own
//     (the session's preamble, see preamble()).
// Memory stays bounded however long a session runs: a session keeps at most kPrologueRecords /
// kPrologueBytes of its opening records, kMaxOutstanding requests waiting for an answer and the
// newest RingState record of each of at most kMaxRingQueues queues; ended sessions are
// forgotten. A session is followed from its front-end Connect (the relay starts each with one).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "captures/format/record.hpp"
#include "captures/model/ring_timeline.hpp"
#include "decoders/session/session.hpp"
#include "decoders/vhost_user/findings.hpp"

namespace vhs {

inline constexpr uint64_t kNoSequence = UINT64_MAX;

// A record with its place in the live stream.
struct SequencedRecord {
  uint64_t sequence = 0;
  Record record;
};

// A finding raised live, with what is needed to tell later whether it has cleared.
struct LiveFinding {
  enum class Kind : uint8_t {
    OneShot,       // about one record (malformed message, relay error): over once raised
    ReplyTimeout,  // a request waiting longer than kReplyTimeoutNs: clears when it is answered
    RingEpisode,   // a ring hang (stall, ...): clears when the episode ends
  };
  Kind kind = Kind::OneShot;
  uint32_t session = 0;
  uint64_t sequence = kNoSequence;  // the record it is about (the waiting request, ...), if known
  uint64_t raised_ns = 0;
  Finding finding{};
  size_t episode = 0;  // RingEpisode: index in the session's RingTimeline

  std::string_view id() const { return finding_info(finding.code).id; }
};

class LiveSessions {
 public:
  static constexpr size_t kPrologueRecords = 256;
  static constexpr size_t kPrologueBytes = size_t{256} << 10;
  static constexpr size_t kMaxOutstanding = 64;
  static constexpr size_t kMaxRingQueues = 1024;

  // What one record was, for a buffer that keeps it.
  struct Observed {
    uint64_t sequence = 0;                    // 0, 1, 2, ... in the order records were observed
    uint64_t answers_sequence = kNoSequence;  // a reply/ack: the request it answers
  };

  LiveSessions();
  ~LiveSessions();
  LiveSessions(const LiveSessions&) = delete;
  LiveSessions& operator=(const LiveSessions&) = delete;

  // Feeds the next record (relay order). Error findings it raises are appended to `raised`.
  Observed observe(const Record& record, std::vector<LiveFinding>& raised);
  // Time passes without records (a frozen ring or a missing reply is silent): reply timeouts
  // and ring stalls that are due by `now_ns` (CLOCK_REALTIME) are appended to `raised`, each
  // once.
  void advance(uint64_t now_ns, std::vector<LiveFinding>& raised);
  // Whether the condition behind a finding is still there (always false for OneShot).
  bool active(const LiveFinding& f) const;

  // The records a file whose own records start at sequence `first` must repeat first so that
  // every session open there decodes as it did live, in their original order (copies, with
  // kRecordRepeated set): per session, its Connect records and opening negotiation (up to the
  // last point within the prologue bound where no request was waiting), the requests still
  // waiting for an answer, and the newest RingState record of every queue — each only when it
  // came before `first`. Sessions in `only` (when given) are the ones asked for.
  std::vector<SequencedRecord> preamble(uint64_t first,
                                        const std::vector<uint32_t>* only = nullptr) const;

  // Sessions being followed (open, not yet disconnected).
  size_t sessions() const;
  // Each followed session's ring timeline (snapshots, hang episodes), by session id: what
  // `record --status` prints. Valid until the next observe().
  std::vector<std::pair<uint32_t, const RingTimeline*>> ring_timelines() const;
  uint64_t observed() const { return next_sequence_; }

 private:
  using Kept = SequencedRecord;
  struct Session;

  Session* session_for(const Record& record);  // nullptr: not a session being followed

  std::map<uint32_t, std::unique_ptr<Session>> sessions_;
  uint64_t next_sequence_ = 0;
};

}  // namespace vhs
