// The per-session summary: data rows (feature tables, waiting requests, finding groups) that the
// GUI can show as tables, and the text rendering `vhostscope summary` prints from the same rows.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "captures/model/store.hpp"
#include "decoders/conformance/rules.hpp"

namespace vhs {

// One feature bit that was offered or acked.
struct FeatureRow {
  unsigned bit = 0;
  std::string_view name;  // "" when the bit has no known name
  bool offered = false;
  bool acked = false;
};

// Every bit set in the offer or the ack, ascending.
std::vector<FeatureRow> feature_rows(const FeatureWord& word, DeviceKind device);
std::vector<FeatureRow> protocol_feature_rows(const FeatureWord& word);

// A request whose required answer never came.
struct WaitingRequest {
  uint32_t entry = kNoEntry;  // the request's store entry
  std::string label;          // "GET_VRING_BASE (index 0)"
  uint64_t waited_ns = 0;     // until the end of the capture, or until the session ended
  bool disconnected = false;  // a peer closed the connection while it waited
};

// `now_ns` = 0 measures open sessions up to the last record (a loaded file); a live view passes
// the current CLOCK_REALTIME so a hang keeps growing on screen.
std::vector<WaitingRequest> waiting_requests(const Store& store, const StoreSession& session,
                                             uint64_t now_ns = 0);
// "UNANSWERED GET_VRING_BASE (index 0) — waiting 2.31 s since message #42"; after a peer's
// disconnect: "UNANSWERED ... — waited 2.31 s since message #42, until the connection closed"
std::string format_waiting(const WaitingRequest& w);

// Findings of one kind within a session, in entry order.
struct FindingGroup {
  FindingCode code{};
  Severity severity = Severity::Info;
  std::vector<uint32_t> entries;  // one per finding (an entry may repeat)
  std::string first_detail;
};

// Sorted by severity (errors first), then by first occurrence.
std::vector<FindingGroup> finding_groups(const Store& store, const StoreSession& session);
// The conformance rules a group's findings are evidence of (by the first listed records); empty
// when the finding kind is a diagnostic (finding_rule(code).why says why).
std::vector<RuleId> group_rules(const Store& store, const FindingGroup& g);

// Ring state at the end and ring hang episodes (from the session's RingTimeline): "" when the
// session has no RingState records. `now_ns` = 0 measures active episodes up to the last record
// the session saw; a live view passes the current time.
//   Rings: 1 queue sampled, 57 ring states
//     q0 split size 128 avail 2565 used 2564 ... inflight 1 [0] oldest head 0: READ sector 0 len
//     4096 NOW   ring-stalled since +21.784 s: queue 0: 1 buffer in flight, ... — still
//     stalled, 4.32 s ENDED ring-stalled +3.100..+6.300 s: queue 0: ... — stalled 3.20 s, drained
std::string format_ring_block(const Store& store, const StoreSession& session, uint64_t now_ns = 0);

// The whole text block for one session (features, memory, vrings, back-end channel, other
// state, findings, unanswered requests).
std::string format_session_summary(const Store& store, const StoreSession& session);

}  // namespace vhs
