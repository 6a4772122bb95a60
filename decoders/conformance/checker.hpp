// The conformance checker: runs the rule catalogue (rules.hpp) over one vhost-user session. Fed
// the session's decoded messages and ring states in record order, it keeps its own
// SessionAnalyser (so the request pairing, negotiation, memory table and vring state are the ones
// every other view shows) and turns the analyser's findings and its own session-level checks into
// violations that name a rule, the side to blame and the messages involved. Pure: no I/O, no
// clocks; it reports every violation and leaves profiles and filters to the caller.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "decoders/conformance/rules.hpp"
#include "decoders/session/session.hpp"
#include "decoders/virtio/ring_snapshot.hpp"

namespace vhs {

struct Violation {
  RuleId rule = RuleId::FrmVersion;
  Side blamed = Side::Frontend;
  MessageRef message = kNoMessage;  // the message (or ring state) the violation is about
  std::vector<MessageRef> related;  // other records that show it (the request, the enable, ...)
  uint64_t timestamp_ns = 0;        // when it was observed (the message's time)
  std::string expected;             // what the rule required here, with concrete values
  std::string observed;             // what happened instead
};

// The rule a finding is evidence of, for the message it is about (`msg` may be nullptr when the
// message is not at hand; `direction` is the way that message travelled): the finding map of
// rules.hpp, refined where one finding kind covers several rules (FeatureNotNegotiated on
// SET_VRING_ENABLE is VU-RING-003). nullopt: a diagnostic, or a finding the checker judges only
// with the rest of the session (MissingReply).
std::optional<RuleId> rule_for_finding(const Finding& f, const DecodedMessage* msg,
                                       Direction direction);

// How long a ring with work in it must go unprocessed before a lost kick is named (VU-RING-004 /
// VU-RING-005): long enough that a live back-end would have used a buffer.
inline constexpr uint64_t kUnprocessedRingNs = 1'000'000'000;

// One step of the VIRTIO device status as the session shows it (VIRTIO "Device Status Field"):
// set by SET_STATUS when the STATUS protocol feature is acked, otherwise inferred from the
// transport (SET_FEATURES: FEATURES_OK; a ring start: DRIVER_OK; RESET_DEVICE, RESET_OWNER: 0).
struct LifecycleStep {
  MessageRef ref = kNoMessage;
  uint64_t timestamp_ns = 0;
  uint8_t status = 0;
  bool inferred = false;
};

class ConformanceChecker {
 public:
  struct Options {
    DeviceKind device = DeviceKind::Unknown;
    // False when the session was joined mid-way: rules about what must come first are skipped.
    bool seen_from_start = true;
    // Texts name records as "#(ref + offset)": the Store's entry index + 1 is the record number
    // every output shows.
    uint64_t number_offset = 1;
  };

  ConformanceChecker() : ConformanceChecker(Options{}) {}
  explicit ConformanceChecker(Options options);

  // The context to decode the session's next message with.
  DecodeContext decode_context() const { return analyser_.decode_context(); }

  void on_message(MessageRef ref, uint64_t timestamp_ns, Direction direction,
                  const DecodedMessage& msg, std::span<const FdInfo> fds);
  // A RingState record of this session.
  void on_ring_state(MessageRef ref, uint64_t timestamp_ns, const RingSnapshot& snapshot);
  // The session ended (see SessionAnalyser::finish). Idempotent.
  void finish(uint64_t end_timestamp_ns, SessionAnalyser::End end);

  const std::vector<Violation>& violations() const { return violations_; }
  const SessionAnalyser& analyser() const { return analyser_; }
  // The device status over the session, one step per change.
  const std::vector<LifecycleStep>& lifecycle() const { return lifecycle_; }

 private:
  // A request that needs an answer, remembered until it gets one.
  struct Waiting {
    MessageRef ref = kNoMessage;
    uint64_t timestamp_ns = 0;
    Channel channel = Channel::Frontend;
    const RequestInfo* info = nullptr;
    ReplyExpectation expects = ReplyExpectation::None;
    bool missing = false;  // the next request came before its answer
    MessageRef overtaken_by = kNoMessage;
    std::optional<uint32_t> config_size;    // GET_CONFIG: the size asked for
    std::optional<InflightValue> inflight;  // GET_INFLIGHT_FD: the queues it asked a buffer for
  };
  // What the checker follows of one queue beyond the VringTracker's state.
  struct QueueWatch {
    std::optional<RingSnapshot> last;
    MessageRef last_ref = kNoMessage;
    uint64_t last_ns = 0;
    bool last_while_started = false;
    // Work seen in the ring that the back-end has not used since (used idx unchanged).
    bool work_pending = false;
    MessageRef work_ref = kNoMessage;  // the ring state that first showed it
    uint64_t work_ns = 0;
    bool work_while_disabled = false;
    MessageRef enabled_by = kNoMessage;  // SET_VRING_ENABLE(1) after the work was seen
    uint64_t enabled_ns = 0;
    MessageRef started_by = kNoMessage;
    uint64_t started_ns = 0;
    bool used_moved_since_start = false;
    bool lost_kick_reported = false;
    // GET_VRING_BASE reply to judge against the ring's indices.
    std::optional<uint32_t> base_reply;
    MessageRef base_reply_ref = kNoMessage;
    uint64_t base_reply_ns = 0;
    bool reported_used_ahead = false;
    bool reported_used_before_driver_ok = false;
    std::vector<RuleId> fault_rules_reported;
  };

  void add(RuleId rule, Side blamed, MessageRef ref, uint64_t ts, std::string expected,
           std::string observed, std::vector<MessageRef> related = {});
  void add_finding(const Finding& f, MessageRef ref, uint64_t ts, Direction direction,
                   const DecodedMessage* msg);
  void check_before(MessageRef ref, uint64_t ts, const DecodedMessage& msg);
  void check_after(MessageRef ref, uint64_t ts, const DecodedMessage& msg, const Observation& obs);
  void check_reply(MessageRef ref, uint64_t ts, const DecodedMessage& msg, const Waiting& req,
                   std::span<const FdInfo> fds);
  void check_inflight_reply(MessageRef ref, uint64_t ts, const DecodedMessage& msg,
                            const Waiting& req, std::span<const FdInfo> fds);
  void check_inflight_set(MessageRef ref, uint64_t ts, const DecodedMessage& msg);
  bool driver_ok_withheld() const;
  void check_lifecycle(MessageRef ref, uint64_t ts, const DecodedMessage& msg);
  void check_ring_start(MessageRef ref, uint64_t ts, uint32_t index);
  void check_base_reply(QueueWatch& q, uint32_t queue);
  void check_unprocessed(QueueWatch& q, uint32_t queue, uint64_t now_ns);
  void judge_unanswered(const Waiting& w);
  void check_fd_kinds(MessageRef ref, uint64_t ts, Direction direction, const DecodedMessage& msg,
                      std::span<const FdInfo> fds);
  void set_status(MessageRef ref, uint64_t ts, uint8_t status, bool inferred);
  QueueWatch& watch(uint32_t queue);
  std::string ref_text(MessageRef ref) const;

  Options options_;
  SessionAnalyser analyser_;
  std::vector<Violation> violations_;
  std::map<MessageRef, Waiting> waiting_;
  // on_message's scratch: which rings ran before the message (index, started).
  std::vector<std::pair<uint32_t, bool>> started_before_;
  std::map<uint32_t, QueueWatch> queues_;
  uint64_t last_sent_ns_[2] = {0, 0};  // per Side: the last message that side sent
  uint64_t last_used_move_ns_ = 0;     // the back-end last moved a used index
  // VIRTIO device status as the front-end set it (SET_STATUS) or as inferred.
  bool features_ok_ = false;
  MessageRef features_ok_by_ = kNoMessage;
  bool reset_pending_ = false;  // reset seen, features not negotiated again yet
  MessageRef reset_by_ = kNoMessage;
  bool needs_reset_ = false;
  MessageRef needs_reset_by_ = kNoMessage;
  std::vector<LifecycleStep> lifecycle_;
  // The inflight buffer the back-end gave (GET_INFLIGHT_FD: the request's queues, the reply's
  // size).
  std::optional<InflightValue> inflight_given_;
  MessageRef inflight_given_by_ = kNoMessage;
  bool finished_ = false;
};

}  // namespace vhs
