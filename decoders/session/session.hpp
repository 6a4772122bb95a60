// Session semantics: a SessionAnalyser is fed the decoded messages of one vhost-user session in
// order and tracks request/reply pairing, feature negotiation, the memory table, per-vring state
// and the back-end channel, producing findings no single message can show. Pure: values in,
// state + findings out; no I/O, no clocks (timestamps come with the messages).
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "decoders/session/device_inference.hpp"
#include "decoders/session/memory_table.hpp"
#include "decoders/session/message_ref.hpp"
#include "decoders/session/vring_tracker.hpp"
#include "decoders/vhost_user/fd_info.hpp"
#include "decoders/vhost_user/features.hpp"
#include "decoders/vhost_user/findings.hpp"
#include "decoders/vhost_user/message.hpp"
#include "decoders/vhost_user/payloads.hpp"
#include "decoders/vhost_user/registry.hpp"
#include "decoders/vhost_user/wire.hpp"
#include "decoders/virtio/ring_snapshot.hpp"

namespace vhs {

// What a request expects back (spec "Communication": intrinsic reply, or REPLY_ACK u64).
enum class ReplyExpectation : uint8_t {
  None,         // nothing comes back
  Reply,        // intrinsic reply (registry ReplyRule::Always, SET_LOG_BASE with LOG_SHMFD, ...)
  Ack,          // NEED_REPLY with REPLY_ACK negotiated: one u64 ack, the sender waits for it
  OptionalAck,  // NEED_REPLY without REPLY_ACK: libvhost-user acks anyway, others may not
};

// How a message relates to its partner; set by the analyser.
enum class MessageRole : uint8_t {
  Request,
  Reply,  // answers a request with an intrinsic reply
  Ack,    // REPLY_ACK-style u64 answer to a NEED_REPLY request
};

// A finding about some message other than the one just fed (MissingReply, Unanswered, ...).
struct AttributedFinding {
  MessageRef ref = kNoMessage;
  Finding finding;
};

// The analyser's verdict on one message.
struct Observation {
  MessageRole role = MessageRole::Request;
  ReplyExpectation expects = ReplyExpectation::None;  // for requests
  MessageRef answers = kNoMessage;  // for replies/acks: the request this one answers
  uint64_t latency_ns = 0;          // for replies/acks: time since that request
  std::vector<Finding> findings;    // about this message (analyser only; decoder's are separate)
  std::vector<AttributedFinding> earlier;  // about earlier messages (e.g. MissingReply)
};

// A request still waiting for its answer.
struct PendingRequest {
  MessageRef ref = kNoMessage;
  Channel channel = Channel::Frontend;
  const RequestInfo* info = nullptr;  // nullptr for unknown request numbers
  uint32_t request = 0;               // request code (matched against the reply's)
  uint64_t timestamp_ns = 0;
  ReplyExpectation expects = ReplyExpectation::Reply;
  std::optional<uint32_t> vring;  // queue index named by the request, if any
  bool reported_missing = false;  // MissingReply already raised
};

// Feature words of one kind (virtio or protocol): what the back-end offered and what was acked.
struct FeatureWord {
  std::optional<uint64_t> offered;     // GET_FEATURES / GET_PROTOCOL_FEATURES reply
  std::optional<uint64_t> acked;       // SET_FEATURES / SET_PROTOCOL_FEATURES
  MessageRef offered_by = kNoMessage;  // the reply that carried the offer
  MessageRef acked_by = kNoMessage;
  bool acked_has(unsigned bit) const { return acked && ((*acked >> bit) & 1u); }
  bool offered_has(unsigned bit) const { return offered && ((*offered >> bit) & 1u); }
  bool acked_has(ProtocolFeature f) const { return acked_has(static_cast<unsigned>(f)); }
  bool offered_has(ProtocolFeature f) const { return offered_has(static_cast<unsigned>(f)); }
};

struct BackendChannelState {
  bool established = false;  // SET_BACKEND_REQ_FD seen
  FdInfo fd;
  MessageRef set_by = kNoMessage;
  uint64_t messages = 0;  // requests + replies seen on the back-end channel
};

struct InflightState {
  std::optional<InflightValue> requested;  // GET_INFLIGHT_FD request
  std::optional<InflightValue> received;   // GET_INFLIGHT_FD reply (+ fd)
  std::optional<InflightValue> set;        // SET_INFLIGHT_FD (+ fd)
  FdInfo fd;                               // from the reply or SET_INFLIGHT_FD, whichever is last
  bool has_fd = false;
};

struct LogState {
  std::optional<LogValue> log;  // SET_LOG_BASE
  FdInfo fd;
  bool has_fd = false;
};

// Everything the analyser knows about the session so far; plain data for views.
struct SessionState {
  FeatureWord features;                     // virtio + vhost bits
  FeatureWord protocol_features;            // vhost-user protocol bits
  DeviceKind device = DeviceKind::Unknown;  // effective: user's choice, else inferred
  bool device_from_user = false;
  // How the device was recognised ("from FUSE requests on queue 1"); empty when given or unknown
  // without evidence; for an unknown device whose evidence disagrees, what disagrees.
  std::string device_reason;
  std::vector<MemRegionState> regions;  // current memory table, in installation order
  std::vector<VringState> vrings;       // sorted by index
  BackendChannelState backend_channel;
  std::optional<uint8_t> status_set;      // last SET_STATUS
  std::optional<uint8_t> status_read;     // last GET_STATUS reply
  std::optional<uint64_t> queue_num;      // GET_QUEUE_NUM reply
  std::optional<uint64_t> max_mem_slots;  // GET_MAX_MEM_SLOTS reply
  std::optional<ConfigValue> config;      // last GET_CONFIG reply
  uint64_t config_writes = 0;             // SET_CONFIG count
  InflightState inflight;
  LogState log;
  bool owner_set = false;           // SET_OWNER (cleared by RESET_OWNER)
  bool postcopy_listening = false;  // between POSTCOPY_LISTEN and POSTCOPY_END
  uint64_t messages = 0;            // everything fed
  // Bumped whenever a vring's started flag or kick/call setting changes, so a consumer (the
  // Store's hang rules) can re-read the notifier facts only when they moved.
  uint64_t vring_notifier_changes = 0;
  uint64_t first_timestamp_ns = 0;
  uint64_t last_timestamp_ns = 0;

  const VringState* vring(uint32_t index) const;
};

class SessionAnalyser {
 public:
  struct Options {
    DeviceKind device = DeviceKind::Unknown;  // Unknown: infer from config size / features
    // False when the session was joined mid-way (no Connect seen): negotiation-order findings
    // (RequestBeforeNegotiation) would be false alarms then.
    bool seen_from_start = true;
  };

  SessionAnalyser() : SessionAnalyser(Options{}) {}
  explicit SessionAnalyser(Options options);

  // The context to decode the next message with (negotiated protocol features, device kind).
  DecodeContext decode_context() const;

  // Feeds one decoded message. `fds` are the descriptions of the fds that came with it.
  Observation on_message(MessageRef ref, uint64_t timestamp_ns, Direction direction,
                         const DecodedMessage& msg, std::span<const FdInfo> fds);

  // A RingState sample of this session: its in-flight requests are evidence of the device kind.
  // True when the device kind changed.
  bool on_ring_state(const RingSnapshot& snapshot);
  // The earlier session of the same front-end connection drove `kind` (a reconnect: the front-end
  // does not send GET_CONFIG again); this session's own evidence may still overrule it.
  void inherit_device(DeviceKind kind, std::string reason);

  // How the session's record stream ended.
  enum class End : uint8_t {
    PeerClosed,       // a peer hung up
    RecorderStopped,  // the recorder closed both sides (its closing records are in the capture)
    CaptureCut,       // the capture ends without a closing record (killed recorder, cut file,
                      // a capture still being written)
  };
  // The session ends. Required replies still missing become, by `end`: DisconnectWithPending
  // (a peer left), Unanswered ("waiting N ms" when the recorder stopped: the shape of a hang) or,
  // in a cut capture, Unanswered after a wait of kReplyTimeoutNs or more and NoReplyYet (info)
  // before (the reply may just not be in the file). Attributed to the
  // waiting requests. Idempotent: the second call returns nothing.
  std::vector<AttributedFinding> finish(uint64_t end_timestamp_ns, End end);

  const SessionState& state() const { return state_; }
  // Requests still waiting for an answer, per channel in send order (front-end channel first).
  std::vector<PendingRequest> pending() const;
  bool finished() const { return finished_; }

 private:
  struct ChannelQueue {
    std::deque<PendingRequest> waiting;
  };

  void on_request(MessageRef ref, uint64_t ts, const DecodedMessage& msg,
                  std::span<const FdInfo> fds, Observation& out);
  void on_reply(MessageRef ref, uint64_t ts, Direction direction, const DecodedMessage& msg,
                std::span<const FdInfo> fds, Observation& out);
  ReplyExpectation expectation(const DecodedMessage& msg) const;
  void check_gating(const DecodedMessage& msg, Observation& out) const;
  void apply_request(MessageRef ref, const DecodedMessage& msg, std::span<const FdInfo> fds,
                     Observation& out);
  void apply_reply(MessageRef ref, const PendingRequest& req, const DecodedMessage& msg,
                   std::span<const FdInfo> fds, Observation& out);
  void check_vring_index(uint32_t index, Observation& out) const;
  void sync_vring(uint32_t index);
  void sync_device();
  void apply_memory_change(const MemoryTableChange& change, std::span<const FdInfo> fds,
                           Observation& out);

  Options options_;
  SessionState state_;
  ChannelQueue queues_[2];  // indexed by Channel
  // The shared rules; `state_` mirrors their tables whenever they change.
  MemoryTableTracker memory_;
  VringTracker vrings_;
  DeviceInference device_;
  bool finished_ = false;
};

}  // namespace vhs
