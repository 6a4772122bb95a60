// The findings table: one row per code in enum order, unique kebab-case ids, and the severities
// the rest of the tool relies on (what breaks a session is an Error).
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "decoders/vhost_user/findings.hpp"

namespace vhs {
namespace {

TEST(Findings, OneRowPerCodeWithUniqueKebabIds) {
  std::set<std::string> ids;
  size_t i = 0;
  for (const FindingInfo& f : all_findings()) {
    EXPECT_EQ(static_cast<size_t>(f.code), i++);
    EXPECT_TRUE(ids.insert(std::string(f.id)).second) << f.id;
    EXPECT_FALSE(f.title.empty()) << f.id;
    for (char c : f.id) EXPECT_TRUE((c >= 'a' && c <= 'z') || c == '-') << f.id;
    EXPECT_EQ(&finding_info(f.code), &f);
  }
  // findings.cpp static_asserts that the last enumerator has a row; here: at least the original
  // set.
  EXPECT_GE(all_findings().size(), static_cast<size_t>(FindingCode::NotificationsSuppressed) + 1);
}

TEST(Findings, SeveritiesAndIds) {
  struct Row {
    FindingCode code;
    Severity severity;
    const char* id;
  };
  const Row rows[] = {
      {FindingCode::UnknownRequest, Severity::Error, "unknown-request"},
      {FindingCode::PayloadSizeMismatch, Severity::Error, "size-mismatch"},
      {FindingCode::FdCountMismatch, Severity::Error, "fd-count"},
      {FindingCode::BadVersion, Severity::Error, "bad-version"},
      {FindingCode::OversizedMessage, Severity::Error, "oversized"},
      {FindingCode::UnexpectedReply, Severity::Error, "unexpected-reply"},
      {FindingCode::NonzeroAck, Severity::Error, "nonzero-ack"},
      {FindingCode::RelayFailed, Severity::Error, "relay-failed"},
      {FindingCode::PeerVanishedMidMessage, Severity::Error, "peer-vanished"},
      {FindingCode::Unanswered, Severity::Error, "unanswered"},
      {FindingCode::ReplyTimeout, Severity::Error, "reply-timeout"},
      {FindingCode::RingStalled, Severity::Error, "ring-stalled"},
      {FindingCode::AckedNotOffered, Severity::Error, "acked-not-offered"},
      {FindingCode::FeatureNotNegotiated, Severity::Error, "feature-not-negotiated"},
      {FindingCode::ReservedFlags, Severity::Warning, "reserved-flags"},
      {FindingCode::ReplyFlagsNotExact, Severity::Warning, "reply-flags-not-exact"},
      {FindingCode::TruncatedHeader, Severity::Error, "truncated-header"},
      {FindingCode::NoCallFd, Severity::Info, "no-call-fd"},
  };
  for (const Row& r : rows) {
    EXPECT_EQ(finding_info(r.code).severity, r.severity) << r.id;
    EXPECT_EQ(finding_info(r.code).id, r.id);
  }
  Finding f{FindingCode::FdCountMismatch, "x"};
  EXPECT_EQ(f.severity(), Severity::Error);
  EXPECT_EQ(severity_name(Severity::Warning), "warning");
  EXPECT_EQ(severity_name(Severity::Error), "error");
  EXPECT_EQ(severity_name(Severity::Info), "info");
}

TEST(Findings, OutOfRangeCodeDoesNotCrash) {
  const FindingInfo& f = finding_info(static_cast<FindingCode>(9999));
  EXPECT_FALSE(f.id.empty());
}

}  // namespace
}  // namespace vhs
