// The rows of the conformance catalogue and the finding-to-rule map. Statements say what MUST
// hold; sections are the titles of docs/interop/vhost-user.rst (and of the VIRTIO spec for the
// device lifecycle and ring layout), so a reader finds the text the rule derives from.
#include "decoders/conformance/rules.hpp"

#include <array>
#include <cctype>

namespace vhs {
namespace {

using R = RuleId;
using S = Severity;
using Sd = RuleSide;
using O = RuleOrigin;

constexpr std::array<std::string_view, kRuleCount> kIds = {
#define VHS_RULE_ID(NAME, id) id,
    VHS_CONFORMANCE_RULES(VHS_RULE_ID)
#undef VHS_RULE_ID
};

constexpr std::string_view id_of(R r) { return kIds[static_cast<size_t>(r)]; }

constexpr Rule row(R r, std::string_view statement, Sd side, S severity, std::string_view section,
                   std::string_view virtio, O origin, std::string_view qemu_deviation = {}) {
  return Rule{r, id_of(r), statement, side, severity, section, virtio, origin, qemu_deviation};
}

constexpr std::array kRules = {
    // framing
    row(R::FrmVersion, "every message MUST carry protocol version 1 in flags bits 0-1", Sd::Sender,
        S::Error, "Header", "", O::Spec),
    row(R::FrmReplyFlag,
        "the REPLY flag MUST be set only on a message that answers a request of the other side",
        Sd::Sender, S::Error, "Header", "", O::Spec),
    row(R::FrmReplyFlagsExact,
        "a reply's flags MUST be exactly version 1 + REPLY (0x5): QEMU drops the connection on "
        "any other value",
        Sd::Sender, S::Warning, "Header", "", O::Qemu),
    row(R::FrmReservedFlags, "flag bits 4-31 are reserved and MUST be zero", Sd::Sender, S::Error,
        "Header", "", O::Spec),
    row(R::FrmPayloadSize,
        "a message's size field MUST match the payload type of its request, and that many bytes "
        "MUST follow the header",
        Sd::Sender, S::Error, "Message Specification", "", O::Spec),
    row(R::FrmFdCount,
        "a message MUST carry exactly the file descriptors its request passes (count and kind: "
        "eventfds for notifiers, memory for regions, a socket for a channel)",
        Sd::Sender, S::Error, "Front-end message types", "", O::Spec),
    row(R::FrmKnownRequest,
        "a request number MUST be one the spec defines for the channel it travels on", Sd::Sender,
        S::Warning, "Front-end message types", "", O::Spec),
    row(R::FrmFieldValue, "payload fields MUST hold values the spec allows for them", Sd::Sender,
        S::Warning, "Message Specification", "", O::Spec),
    row(R::FrmWaitForReply,
        "a sender MUST NOT send its next request before the reply (or REPLY_ACK ack) it must "
        "wait for has arrived",
        Sd::Sender, S::Error, "Communication", "", O::Spec),
    // negotiation
    row(R::NegGetBeforeSet,
        "the front-end MUST read the back-end's features (GET_FEATURES) before it sets them "
        "(SET_FEATURES)",
        Sd::Frontend, S::Error, "Front-end message types", "Device Initialization", O::Spec),
    row(R::NegAckedOffered,
        "SET_FEATURES MUST ack only bits the back-end offered in its GET_FEATURES reply",
        Sd::Frontend, S::Error, "Front-end message types", "Feature Bits", O::Spec),
    row(R::NegProtocolAckedOffered,
        "SET_PROTOCOL_FEATURES MUST ack only bits the back-end offered in its "
        "GET_PROTOCOL_FEATURES reply",
        Sd::Frontend, S::Error, "Protocol features", "", O::Spec),
    row(R::NegProtocolNeedsBit30,
        "GET/SET_PROTOCOL_FEATURES MUST be sent only when GET_FEATURES offered "
        "PROTOCOL_FEATURES (bit 30)",
        Sd::Frontend, S::Error, "Front-end message types", "", O::Spec),
    row(R::NegGatedRequest,
        "a request gated by a protocol feature MUST be sent only after that feature was acked "
        "with SET_PROTOCOL_FEATURES",
        Sd::Sender, S::Error, "Protocol features", "", O::Spec),
    row(R::NegReplyAck,
        "with REPLY_ACK negotiated, a request carrying NEED_REPLY MUST be answered with a u64 ack",
        Sd::Receiver, S::Error, "VHOST_USER_PROTOCOL_F_REPLY_ACK", "", O::Spec),
    row(R::NegReplyOnceInOrder,
        "a request with an intrinsic reply MUST be answered exactly once, in request order, with "
        "its own request code",
        Sd::Receiver, S::Error, "Communication", "", O::Spec),
    // ownership
    row(R::OwnOwnerFirst,
        "the front-end MUST claim the session with SET_OWNER (again after RESET_OWNER) before it "
        "sets up memory or rings",
        Sd::Frontend, S::Error, "Front-end message types", "", O::Spec),
    // memory
    row(R::MemNoOverlap,
        "memory regions MUST NOT overlap in guest-physical or front-end user address space",
        Sd::Frontend, S::Error, "Memory access", "", O::Spec),
    row(R::MemSlotsGated,
        "ADD_MEM_REG and REM_MEM_REG MUST be sent only with CONFIGURE_MEM_SLOTS negotiated",
        Sd::Frontend, S::Error, "Front-end message types", "", O::Spec),
    row(R::MemSlotLimit,
        "the front-end MUST NOT install more regions than GET_MAX_MEM_SLOTS reported", Sd::Frontend,
        S::Error, "Front-end message types", "", O::Spec),
    row(R::MemRemoveKnown,
        "REM_MEM_REG MUST name a region that is in the memory table (added and not yet removed)",
        Sd::Frontend, S::Error, "Front-end message types", "", O::Spec),
    row(R::MemRingMapped,
        "a ring's descriptor, avail and used addresses MUST lie inside the memory table when the "
        "ring is started",
        Sd::Frontend, S::Error, "Memory access", "", O::Spec),
    row(R::MemRegionWithinFd,
        "a memory region MUST lie within the file it is mapped from (mmap_offset + size <= file "
        "size)",
        Sd::Frontend, S::Error, "Memory region description", "", O::Spec),
    row(R::MemIotlbGated,
        "IOTLB_MSG MUST be sent only when ACCESS_PLATFORM (virtio bit 33) was acked", Sd::Frontend,
        S::Error, "IOMMU support", "", O::Spec),
    // rings
    row(R::RingBaseReply,
        "the GET_VRING_BASE reply MUST be the next avail index the back-end would process (not a "
        "reset value): between the ring's used and avail indices",
        Sd::Backend, S::Error, "Ring states", "The Virtqueue Available Ring", O::Spec),
    row(R::RingNoResizeStarted,
        "SET_VRING_NUM and SET_VRING_BASE MUST NOT be sent for a started ring (stop it with "
        "GET_VRING_BASE first)",
        Sd::Frontend, S::Warning, "Ring states", "", O::Qemu),
    row(R::RingEnableGated,
        "SET_VRING_ENABLE MUST be sent only when PROTOCOL_FEATURES (bit 30) was acked",
        Sd::Frontend, S::Error, "Ring states", "", O::Spec),
    row(R::RingEnabledByDefault,
        "without PROTOCOL_FEATURES a ring is enabled as it starts: the back-end MUST process it "
        "after the kick, without waiting for SET_VRING_ENABLE",
        Sd::Backend, S::Error, "Ring states", "", O::Spec),
    row(R::RingLostKick,
        "a started but disabled ring MUST still be processed (without side effects), and buffers "
        "kicked while it was disabled MUST be processed once it is enabled",
        Sd::Backend, S::Error, "Ring states", "", O::Spec),
    row(R::RingStoppedUntouched,
        "the back-end MUST NOT process a stopped ring (after GET_VRING_BASE or a reset, until the "
        "next kick)",
        Sd::Backend, S::Error, "Ring states", "", O::Spec),
    row(R::RingUsedBehindAvail,
        "the used index MUST NOT move past the avail index (the device uses only buffers the "
        "driver made available)",
        Sd::Backend, S::Error, "Ring states", "The Virtqueue Used Ring", O::Spec),
    row(R::RingUsedIdInRange,
        "a used ring entry MUST name a descriptor head inside the ring (id < queue size)",
        Sd::Backend, S::Error, "Ring states", "The Virtqueue Used Ring", O::Spec),
    row(R::RingAvailHeadInRange,
        "an avail ring entry MUST name a descriptor head inside the ring (head < queue size)",
        Sd::Frontend, S::Error, "Ring states", "The Virtqueue Available Ring", O::Spec),
    row(R::RingChainWellFormed,
        "descriptor chains MUST be finite, inside the table and follow the indirect-table rules",
        Sd::Frontend, S::Error, "Ring states", "The Virtqueue Descriptor Table", O::Spec),
    row(R::RingIndexInRange,
        "a queue index MUST be below the number of queues (GET_QUEUE_NUM with MQ)", Sd::Sender,
        S::Error, "Multiple queue support", "", O::Spec),
    row(R::RingCallBeforeStart,
        "before a ring starts, the front-end MUST have set how the back-end notifies the driver: "
        "SET_VRING_CALL with an eventfd, or with NOFD when the driver polls",
        Sd::Frontend, S::Warning, "Ring states", "", O::Qemu),
    row(R::RingUsedWasInFlight,
        "a used ring entry MUST name a buffer that is in flight: made available by the driver "
        "and not used since (no duplicate used entries)",
        Sd::Backend, S::Error, "Ring states", "The Virtqueue Used Ring", O::Spec),
    row(R::RingUsedLenWithinChain,
        "a used ring entry's len MUST NOT exceed the device-writable bytes of its descriptor "
        "chain (the device wrote at least len bytes into them)",
        Sd::Backend, S::Error, "Ring states", "The Virtqueue Used Ring", O::Spec),
    // back-end channel
    row(R::ChanNeedsBackendReq,
        "the back-end MUST send requests on the back-end channel only after SET_BACKEND_REQ_FD, "
        "with BACKEND_REQ negotiated",
        Sd::Backend, S::Error, "Back-end communication", "", O::Spec),
    row(R::ChanFrontendAcks,
        "with REPLY_ACK negotiated, the front-end MUST ack a back-end request carrying NEED_REPLY",
        Sd::Frontend, S::Error, "Back-end communication", "", O::Spec),
    // log / migration
    row(R::LogFdWithShmfd,
        "SET_LOG_BASE MUST carry the log's shared-memory fd exactly when LOG_SHMFD was negotiated",
        Sd::Frontend, S::Error, "Migration", "", O::Spec),
    row(R::LogBaseReply,
        "with LOG_SHMFD negotiated, the back-end MUST answer SET_LOG_BASE (the front-end waits "
        "for it); without it, it MUST NOT",
        Sd::Backend, S::Error, "Front-end message types", "", O::Spec),
    row(R::LogFlagNeedsBase,
        "SET_VRING_ADDR with the LOG flag MUST come after SET_LOG_BASE set up the dirty log",
        Sd::Frontend, S::Error, "Migration", "", O::Spec),
    row(R::LogFdKinds,
        "the dirty log MUST be shared memory (SET_LOG_BASE: memfd or file) and its notifier an "
        "eventfd (SET_LOG_FD)",
        Sd::Frontend, S::Error, "Migration", "", O::Spec),
    // config
    row(R::CfgReplySize,
        "the GET_CONFIG reply MUST have the size of the request (a size of 0 reports failure)",
        Sd::Backend, S::Error, "Front-end message types", "", O::Spec),
    // inflight I/O tracking
    row(R::InfReplyBuffer,
        "a GET_INFLIGHT_FD reply with mmap_size > 0 MUST carry a shared-memory fd that holds "
        "mmap_offset + mmap_size bytes (mmap_size 0: the back-end keeps no buffer)",
        Sd::Backend, S::Error, "Inflight I/O tracking", "", O::Spec),
    row(R::InfSetMatchesGet,
        "SET_INFLIGHT_FD MUST hand back the buffer GET_INFLIGHT_FD returned: the same mmap_size, "
        "num_queues and queue_size",
        Sd::Frontend, S::Error, "Inflight I/O tracking", "", O::Spec),
    // VIRTIO device lifecycle behind the transport
    row(R::LifeFeaturesFixed,
        "once FEATURES_OK is set, the negotiated features MUST NOT change until the device is "
        "reset (LOG_ALL excepted)",
        Sd::Frontend, S::Error, "Front-end message types", "Device Initialization", O::Spec),
    row(R::LifeDriverOkAfterFeaturesOk,
        "DRIVER_OK MUST be set only together with or after FEATURES_OK (VERSION_1 devices)",
        Sd::Frontend, S::Error, "Front-end message types", "Device Status Field", O::Spec),
    row(R::LifeFeaturesAfterReset,
        "after a reset (RESET_DEVICE, RESET_OWNER, SET_STATUS 0) the front-end MUST negotiate "
        "features again before it starts a ring",
        Sd::Frontend, S::Error, "Front-end message types", "Device Initialization", O::Spec),
    row(R::LifeNeedsReset,
        "after GET_STATUS reported DEVICE_NEEDS_RESET, the front-end MUST reset the device before "
        "it sets DRIVER_OK or starts a ring again",
        Sd::Frontend, S::Error, "Front-end message types", "Device Status Field", O::Spec),
    row(R::LifeNoUseBeforeDriverOk,
        "while the device status set by SET_STATUS lacks DRIVER_OK, the back-end MUST NOT use "
        "buffers (a ring's used index stays)",
        Sd::Backend, S::Error, "Front-end message types", "Device Status Field", O::Spec,
        "QEMU sends SET_STATUS with DRIVER_OK only after it has set up every ring and its kick "
        "fd (vhost_dev_start), while \"Ring states\" has the back-end start a ring on its first "
        "kick: a back-end may use buffers in between"),
};

// The table is indexed by RuleId and every rule has a row (checked at compile time).
constexpr bool rules_in_enum_order() {
  for (size_t i = 0; i < kRules.size(); ++i)
    if (static_cast<size_t>(kRules[i].rule) != i || kRules[i].id != kIds[i]) return false;
  return true;
}
static_assert(rules_in_enum_order(), "kRules must list RuleId values in declaration order");
static_assert(kRules.size() == kIds.size(), "every RuleId needs a row");
static_assert(kRules.size() == static_cast<size_t>(R::LifeNoUseBeforeDriverOk) + 1,
              "kIds must be sized to the rule list");

// IDs are "VU-<AREA>-<nnn>" and unique: a duplicate would make --rule select two rules.
constexpr bool ids_unique() {
  for (size_t i = 0; i < kIds.size(); ++i)
    for (size_t j = i + 1; j < kIds.size(); ++j)
      if (kIds[i] == kIds[j]) return false;
  return true;
}
static_assert(ids_unique(), "rule IDs must be unique");

using C = FindingCode;

constexpr std::array kFindingRules = {
    FindingRule{C::UnknownRequest, R::FrmKnownRequest, ""},
    FindingRule{C::TruncatedHeader, R::FrmPayloadSize, ""},
    FindingRule{C::TruncatedPayload, R::FrmPayloadSize, ""},
    FindingRule{C::PayloadSizeMismatch, R::FrmPayloadSize, ""},
    FindingRule{C::BadVersion, R::FrmVersion, ""},
    FindingRule{C::ReservedFlags, R::FrmReservedFlags, ""},
    FindingRule{C::ReplyFlagsNotExact, R::FrmReplyFlagsExact, ""},
    FindingRule{C::FdCountMismatch, R::FrmFdCount, ""},
    FindingRule{C::InvalidField, R::FrmFieldValue, ""},
    FindingRule{C::OversizedMessage, std::nullopt,
                "a limit of the peers (rust-vmm's 4096 bytes), not of the protocol"},
    FindingRule{C::FdsTruncated, std::nullopt,
                "the kernel dropped fds on the way: the sender may have sent them right"},
    FindingRule{C::UnexpectedReply, R::NegReplyOnceInOrder, ""},
    FindingRule{C::ReplyCodeMismatch, R::NegReplyOnceInOrder, ""},
    FindingRule{C::MissingReply, R::FrmWaitForReply, ""},
    FindingRule{C::Unanswered, std::nullopt,
                "a hang: a stopped or busy peer breaks no rule; the checker blames a reply rule "
                "only when the peer went on talking, or the reply rule is conditional"},
    FindingRule{C::FeatureNotNegotiated, R::NegGatedRequest, ""},
    FindingRule{C::AckedNotOffered, R::NegAckedOffered, ""},
    FindingRule{C::ProtocolAckedNotOffered, R::NegProtocolAckedOffered, ""},
    FindingRule{C::NonzeroAck, std::nullopt, "a peer reporting a failure follows the protocol"},
    FindingRule{C::RequestBeforeNegotiation, std::nullopt,
                "the feature may still be negotiated; VU-NEG-005 judges once it is known"},
    FindingRule{C::UnknownRegion, R::MemRemoveKnown, ""},
    FindingRule{C::OverlappingRegion, R::MemNoOverlap, ""},
    FindingRule{C::RegionBeyondFd, R::MemRegionWithinFd, ""},
    FindingRule{C::VringIndexOutOfRange, R::RingIndexInRange, ""},
    FindingRule{C::DisconnectWithPending, std::nullopt,
                "a peer left: the session ended, which the protocol allows at any time"},
    FindingRule{C::NoReplyYet, std::nullopt, "the capture was cut; the reply may have followed"},
    FindingRule{C::RelayFailed, std::nullopt, "a problem of the recorder, not of a peer"},
    FindingRule{C::PeerVanishedMidMessage, std::nullopt,
                "a peer died; the bytes it sent were not a complete message"},
    FindingRule{C::ReplyTimeout, std::nullopt, "a hang, not a protocol violation"},
    FindingRule{C::RingStalled, std::nullopt,
                "a hang, not a protocol violation (VU-RING-004/005 name the lost kick when the "
                "ring states show one)"},
    FindingRule{C::RingAddressUnmapped, R::MemRingMapped, ""},
    FindingRule{C::RingIndexInvalid, R::RingUsedBehindAvail, ""},
    FindingRule{C::ChainLoop, R::RingChainWellFormed, ""},
    FindingRule{C::ChainOutOfRange, R::RingChainWellFormed, ""},
    FindingRule{C::NoKickFd, std::nullopt, "polling mode (NOFD) is allowed"},
    FindingRule{C::NoCallFd, std::nullopt,
                "a ring without interrupts is allowed (NOFD: the driver polls); VU-RING-012 "
                "judges whether the call notifier was set before the ring started"},
    FindingRule{C::NotificationsSuppressed, std::nullopt,
                "notification suppression is the driver's choice"},
    FindingRule{C::ChainMalformed, R::RingChainWellFormed, ""},
    FindingRule{
        C::BackendGoneInFlight, std::nullopt,
        "a back-end may disconnect at any time; the requests it took with it hang the guest"},
    FindingRule{C::UsedNotInFlight, R::RingUsedWasInFlight, ""},
    FindingRule{C::UsedLenBeyondChain, R::RingUsedLenWithinChain, ""},
};

constexpr bool finding_rules_in_enum_order() {
  for (size_t i = 0; i < kFindingRules.size(); ++i)
    if (static_cast<size_t>(kFindingRules[i].code) != i) return false;
  return true;
}
static_assert(finding_rules_in_enum_order(),
              "kFindingRules must list FindingCode values in declaration order");

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::toupper(static_cast<unsigned char>(a[i])) !=
        std::toupper(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

const FindingRule kUnmappedFinding{C::InvalidField, std::nullopt,
                                   "a finding kind newer than this catalogue"};

}  // namespace

std::string_view rule_side_name(RuleSide side) {
  switch (side) {
    case RuleSide::Frontend: return "front-end";
    case RuleSide::Backend: return "back-end";
    case RuleSide::Sender: return "either (the sender)";
    case RuleSide::Receiver: return "either (the receiver)";
  }
  return "unknown";
}

std::string_view side_name(Side side) { return side == Side::Frontend ? "front-end" : "back-end"; }

std::string_view rule_origin_name(RuleOrigin origin) {
  return origin == RuleOrigin::Spec ? "spec" : "QEMU behaviour";
}

std::span<const Rule> all_rules() { return kRules; }

const Rule& rule_info(RuleId rule) {
  const auto i = static_cast<size_t>(rule);
  return i < kRules.size() ? kRules[i] : kRules[0];
}

const Rule* find_rule(std::string_view id) {
  for (const Rule& r : kRules)
    if (iequals(r.id, id)) return &r;
  return nullptr;
}

bool rule_applies(const Rule& rule, Profile profile) {
  return profile == Profile::Spec || rule.qemu_deviation.empty();
}

std::span<const FindingRule> all_finding_rules() { return kFindingRules; }

const FindingRule& finding_rule(FindingCode code) {
  const auto i = static_cast<size_t>(code);
  // A finding kind added after this map (the static_assert only checks order) is a diagnostic
  // until someone decides which rule it is evidence of.
  return i < kFindingRules.size() ? kFindingRules[i] : kUnmappedFinding;
}

}  // namespace vhs
