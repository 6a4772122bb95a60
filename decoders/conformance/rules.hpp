// The conformance rule catalogue: one row per rule `vhostscope check` enforces. The vhost-user
// spec says what messages mean but has no conformance clauses; each row turns one of its
// statements (or, marked as such, one behaviour QEMU relies on) into a MUST that blames one side.
// Rule IDs are stable: CI configurations name them in --rule/--skip, so a rule is never renumbered;
// a retired rule keeps its row. docs/rules.md is generated from this table.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "decoders/vhost_user/findings.hpp"

namespace vhs {

// clang-format off
// NAME, id
#define VHS_CONFORMANCE_RULES(X) \
  X(FrmVersion, "VU-FRM-001") \
  X(FrmReplyFlag, "VU-FRM-002") \
  X(FrmReplyFlagsExact, "VU-FRM-003") \
  X(FrmReservedFlags, "VU-FRM-004") \
  X(FrmPayloadSize, "VU-FRM-005") \
  X(FrmFdCount, "VU-FRM-006") \
  X(FrmKnownRequest, "VU-FRM-007") \
  X(FrmFieldValue, "VU-FRM-008") \
  X(FrmWaitForReply, "VU-FRM-009") \
  X(NegGetBeforeSet, "VU-NEG-001") \
  X(NegAckedOffered, "VU-NEG-002") \
  X(NegProtocolAckedOffered, "VU-NEG-003") \
  X(NegProtocolNeedsBit30, "VU-NEG-004") \
  X(NegGatedRequest, "VU-NEG-005") \
  X(NegReplyAck, "VU-NEG-006") \
  X(NegReplyOnceInOrder, "VU-NEG-007") \
  X(OwnOwnerFirst, "VU-OWN-001") \
  X(MemNoOverlap, "VU-MEM-001") \
  X(MemSlotsGated, "VU-MEM-002") \
  X(MemSlotLimit, "VU-MEM-003") \
  X(MemRemoveKnown, "VU-MEM-004") \
  X(MemRingMapped, "VU-MEM-005") \
  X(MemRegionWithinFd, "VU-MEM-006") \
  X(MemIotlbGated, "VU-MEM-007") \
  X(RingBaseReply, "VU-RING-001") \
  X(RingNoResizeStarted, "VU-RING-002") \
  X(RingEnableGated, "VU-RING-003") \
  X(RingEnabledByDefault, "VU-RING-004") \
  X(RingLostKick, "VU-RING-005") \
  X(RingStoppedUntouched, "VU-RING-006") \
  X(RingUsedBehindAvail, "VU-RING-007") \
  X(RingUsedIdInRange, "VU-RING-008") \
  X(RingAvailHeadInRange, "VU-RING-009") \
  X(RingChainWellFormed, "VU-RING-010") \
  X(RingIndexInRange, "VU-RING-011") \
  X(RingCallBeforeStart, "VU-RING-012") \
  X(RingUsedWasInFlight, "VU-RING-013") \
  X(RingUsedLenWithinChain, "VU-RING-014") \
  X(ChanNeedsBackendReq, "VU-CHAN-001") \
  X(ChanFrontendAcks, "VU-CHAN-002") \
  X(LogFdWithShmfd, "VU-LOG-001") \
  X(LogBaseReply, "VU-LOG-002") \
  X(LogFlagNeedsBase, "VU-LOG-003") \
  X(LogFdKinds, "VU-LOG-004") \
  X(CfgReplySize, "VU-CFG-001") \
  X(InfReplyBuffer, "VU-INF-001") \
  X(InfSetMatchesGet, "VU-INF-002") \
  X(LifeFeaturesFixed, "VU-LIFE-001") \
  X(LifeDriverOkAfterFeaturesOk, "VU-LIFE-002") \
  X(LifeFeaturesAfterReset, "VU-LIFE-003") \
  X(LifeNeedsReset, "VU-LIFE-004") \
  X(LifeNoUseBeforeDriverOk, "VU-LIFE-005")
// clang-format on

#define VHS_RULE_COUNT(NAME, id) +1
inline constexpr size_t kRuleCount = 0 VHS_CONFORMANCE_RULES(VHS_RULE_COUNT);
#undef VHS_RULE_COUNT

enum class RuleId : uint16_t {
#define VHS_RULE_ENUMERATOR(NAME, id) NAME,
  VHS_CONFORMANCE_RULES(VHS_RULE_ENUMERATOR)
#undef VHS_RULE_ENUMERATOR
};

// The side a rule holds responsible. `Sender`/`Receiver` rules apply to both channels: the
// violation blames whoever sent (or should have answered) the message in question.
enum class RuleSide : uint8_t { Frontend, Backend, Sender, Receiver };
// The side one violation blames.
enum class Side : uint8_t { Frontend, Backend };

std::string_view rule_side_name(RuleSide side);  // "front-end", "back-end", "either (sender)"...
std::string_view side_name(Side side);           // "front-end", "back-end"

// Where a rule comes from.
enum class RuleOrigin : uint8_t {
  Spec,  // a statement of the vhost-user spec (or the VIRTIO spec for the device lifecycle)
  Qemu,  // not written in the spec: behaviour QEMU relies on, which other peers meet in practice
};

std::string_view rule_origin_name(RuleOrigin origin);  // "spec", "QEMU behaviour"

struct Rule {
  RuleId rule;
  std::string_view id;         // "VU-NEG-001": stable, for --rule/--skip and CI reports
  std::string_view statement;  // one line, MUST form
  RuleSide side;
  Severity severity;         // Error: a peer broke the rule; Warning: likely but not certain
  std::string_view section;  // vhost-user.rst section title
  std::string_view virtio;   // VIRTIO spec section where it matters, else empty
  RuleOrigin origin;
  std::string_view qemu_deviation;  // non-empty: --profile qemu accepts violations, for this reason
};

std::span<const Rule> all_rules();
const Rule& rule_info(RuleId rule);
// "VU-NEG-001" (case-insensitive) -> row; nullptr when unknown.
const Rule* find_rule(std::string_view id);

// Which profile judges a capture: the letter of the spec, or the spec with QEMU's known deviations
// accepted.
enum class Profile : uint8_t { Spec, Qemu };
bool rule_applies(const Rule& rule, Profile profile);

// How a finding kind relates to the catalogue: either a rule it is evidence of, or a diagnostic
// (a hang, a transport problem, an oddity worth seeing that breaks no rule). Some findings map to
// different rules by the request they are about; this is the default row.
struct FindingRule {
  FindingCode code;
  std::optional<RuleId> rule;  // nullopt: diagnostic
  std::string_view why;        // for diagnostics: why it is not a violation
};

std::span<const FindingRule> all_finding_rules();
const FindingRule& finding_rule(FindingCode code);

}  // namespace vhs
