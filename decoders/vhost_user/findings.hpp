// The single table of finding kinds: problems found in one message (syntax), across a session
// (semantics), by the proxy (transport), or by ring inspection (hangs). Every finding shown by the
// CLI or GUI has one of these codes; its id is what filters match ("finding:size-mismatch").
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace vhs {

enum class Severity : uint8_t { Info = 0, Warning = 1, Error = 2 };

std::string_view severity_name(Severity s);

enum class FindingCode : uint16_t {
  // one message
  UnknownRequest,
  TruncatedHeader,
  TruncatedPayload,
  PayloadSizeMismatch,
  BadVersion,
  ReservedFlags,
  ReplyFlagsNotExact,
  FdCountMismatch,
  InvalidField,
  OversizedMessage,
  FdsTruncated,
  // session
  UnexpectedReply,
  ReplyCodeMismatch,
  MissingReply,
  Unanswered,
  FeatureNotNegotiated,
  AckedNotOffered,
  ProtocolAckedNotOffered,
  NonzeroAck,
  RequestBeforeNegotiation,
  UnknownRegion,
  OverlappingRegion,
  RegionBeyondFd,
  VringIndexOutOfRange,
  DisconnectWithPending,
  NoReplyYet,
  // transport (proxy)
  RelayFailed,
  PeerVanishedMidMessage,
  // rings and hangs
  ReplyTimeout,
  RingStalled,
  RingAddressUnmapped,
  RingIndexInvalid,
  ChainLoop,
  ChainOutOfRange,
  NoKickFd,
  NoCallFd,
  NotificationsSuppressed,
  ChainMalformed,
  // session end
  BackendGoneInFlight,
  // rings, from following the used entries across samples (kept after the older codes so their
  // numbers do not move)
  UsedNotInFlight,
  UsedLenBeyondChain,
};

struct FindingInfo {
  FindingCode code;
  Severity severity;
  std::string_view id;     // stable kebab-case id for filters and scripts
  std::string_view title;  // one-line meaning
};

std::span<const FindingInfo> all_findings();
const FindingInfo& finding_info(FindingCode code);

struct Finding {
  FindingCode code;
  std::string detail;  // what was expected vs found, concrete values

  Severity severity() const { return finding_info(code).severity; }
};

}  // namespace vhs
