// The table behind FindingCode: severity, stable kebab-case id and title of every finding kind.
// Severity rule: Error = the session is broken or the protocol was violated; Warning = odd but a
// peer may survive it; Info = worth knowing while debugging. Healthy QEMU traffic yields no Error.
#include "decoders/vhost_user/findings.hpp"

#include <array>

namespace vhs {
namespace {

using S = Severity;
using C = FindingCode;

constexpr std::array kFindings = {
    // one message (syntax)
    FindingInfo{C::UnknownRequest, S::Error, "unknown-request",
                "request number not defined on this channel"},
    FindingInfo{C::TruncatedHeader, S::Error, "truncated-header", "fewer than 12 header bytes"},
    FindingInfo{C::TruncatedPayload, S::Error, "truncated-payload",
                "fewer payload bytes than the header's size"},
    FindingInfo{C::PayloadSizeMismatch, S::Error, "size-mismatch",
                "payload size does not fit the request's payload layout"},
    FindingInfo{C::BadVersion, S::Error, "bad-version", "protocol version in flags is not 1"},
    FindingInfo{C::ReservedFlags, S::Warning, "reserved-flags", "reserved flag bits 4-31 are set"},
    FindingInfo{C::ReplyFlagsNotExact, S::Warning, "reply-flags-not-exact",
                "reply flags are not exactly 0x5 (QEMU rejects such replies)"},
    FindingInfo{C::FdCountMismatch, S::Error, "fd-count",
                "number of passed fds does not match the request's fd rule"},
    FindingInfo{C::InvalidField, S::Warning, "invalid-field",
                "a payload field holds a value the spec does not allow"},
    FindingInfo{C::OversizedMessage, S::Error, "oversized",
                "payload size exceeds what any peer accepts"},
    FindingInfo{C::FdsTruncated, S::Error, "fds-truncated",
                "the kernel dropped passed fds (MSG_CTRUNC)"},
    // session (semantics)
    FindingInfo{C::UnexpectedReply, S::Error, "unexpected-reply",
                "reply with no outstanding request that expects one"},
    FindingInfo{C::ReplyCodeMismatch, S::Error, "reply-code-mismatch",
                "reply's request code differs from the outstanding request"},
    FindingInfo{C::MissingReply, S::Error, "missing-reply",
                "a new request arrived before the expected reply"},
    FindingInfo{C::Unanswered, S::Error, "unanswered",
                "request still waiting for its reply at the end of the session"},
    FindingInfo{C::FeatureNotNegotiated, S::Error, "feature-not-negotiated",
                "request needs a protocol feature that was not negotiated"},
    FindingInfo{C::AckedNotOffered, S::Error, "acked-not-offered",
                "SET_FEATURES acks bits the back-end did not offer"},
    FindingInfo{C::ProtocolAckedNotOffered, S::Error, "protocol-acked-not-offered",
                "SET_PROTOCOL_FEATURES acks bits the back-end did not offer"},
    FindingInfo{C::NonzeroAck, S::Error, "nonzero-ack", "ack reply reports failure (non-zero)"},
    FindingInfo{C::RequestBeforeNegotiation, S::Warning, "request-before-negotiation",
                "request sent before the features it depends on were set"},
    FindingInfo{C::UnknownRegion, S::Warning, "unknown-region",
                "address or region not found in the current memory table"},
    FindingInfo{C::OverlappingRegion, S::Error, "overlapping-region", "memory regions overlap"},
    FindingInfo{C::RegionBeyondFd, S::Error, "region-beyond-fd",
                "memory region extends past the end of its fd (a back-end touching it faults)"},
    FindingInfo{C::VringIndexOutOfRange, S::Error, "vring-index-out-of-range",
                "queue index beyond the number of queues"},
    FindingInfo{C::DisconnectWithPending, S::Warning, "disconnect-with-pending",
                "connection closed while a reply was outstanding"},
    FindingInfo{C::NoReplyYet, S::Info, "no-reply-yet",
                "request had no reply yet where the capture ends, less than a second after it was "
                "sent (the file was cut before the recorder closed the session)"},
    // transport (proxy)
    FindingInfo{C::RelayFailed, S::Error, "relay-failed", "the proxy could not forward a message"},
    FindingInfo{C::PeerVanishedMidMessage, S::Error, "peer-vanished",
                "peer closed the socket in the middle of a message"},
    // rings and hangs
    FindingInfo{C::ReplyTimeout, S::Error, "reply-timeout",
                "no reply within the timeout (the front-end may be blocked)"},
    FindingInfo{C::RingStalled, S::Error, "ring-stalled",
                "requests pending on a queue but the back-end makes no progress"},
    FindingInfo{C::RingAddressUnmapped, S::Warning, "ring-address-unmapped",
                "ring address is outside the mapped guest memory"},
    FindingInfo{C::RingIndexInvalid, S::Error, "ring-index-invalid",
                "ring index moved further than the queue size allows"},
    FindingInfo{C::ChainLoop, S::Error, "chain-loop",
                "descriptor chain longer than the queue (loop)"},
    FindingInfo{C::ChainOutOfRange, S::Error, "chain-out-of-range",
                "descriptor index or buffer outside the ring or memory"},
    FindingInfo{C::NoKickFd, S::Warning, "no-kick-fd",
                "queue has no kick eventfd (back-end must poll)"},
    FindingInfo{C::NoCallFd, S::Info, "no-call-fd", "queue has no call eventfd (no interrupts)"},
    FindingInfo{C::NotificationsSuppressed, S::Info, "notifications-suppressed",
                "unfetched work is unannounced: a publication without the kick the back-end asked "
                "for, or its event word hides work it has not fetched"},
    FindingInfo{
        C::ChainMalformed, S::Error, "chain-malformed",
        "descriptor chain breaks the indirect-table rules (nested, INDIRECT+NEXT, bad length)"},
    // session end
    FindingInfo{C::BackendGoneInFlight, S::Error, "backend-gone-in-flight",
                "the back-end disconnected with requests in flight on a started queue (the driver "
                "waits for them)"},
    FindingInfo{C::UsedNotInFlight, S::Error, "used-not-in-flight",
                "a used ring entry names a buffer that was not in flight (used twice, or never "
                "made available)"},
    FindingInfo{C::UsedLenBeyondChain, S::Error, "used-len-beyond-chain",
                "a used ring entry's len is more than its chain's device-writable bytes"},
};

// The table is indexed by code: keep it in enum order (checked at compile time).
constexpr bool table_in_enum_order() {
  for (size_t i = 0; i < kFindings.size(); ++i)
    if (static_cast<size_t>(kFindings[i].code) != i) return false;
  return true;
}
static_assert(table_in_enum_order(), "kFindings must list FindingCode values in declaration order");
static_assert(kFindings.size() == static_cast<size_t>(C::UsedLenBeyondChain) + 1,
              "every FindingCode needs a row");

}  // namespace

std::string_view severity_name(Severity s) {
  switch (s) {
    case Severity::Info: return "info";
    case Severity::Warning: return "warning";
    case Severity::Error: return "error";
  }
  return "unknown";
}

std::span<const FindingInfo> all_findings() { return kFindings; }

const FindingInfo& finding_info(FindingCode code) {
  const auto i = static_cast<size_t>(code);
  if (i < kFindings.size()) return kFindings[i];
  // An out-of-range code can only come from a cast; report it as the generic field problem.
  return kFindings[static_cast<size_t>(C::InvalidField)];
}

}  // namespace vhs
