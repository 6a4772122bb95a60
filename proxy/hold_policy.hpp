// Breakpoints for step debugging through the relay: which messages make a relay direction stop
// and hold them. Names resolve through the decoder registry (the one table of request names), so
// a breakpoint can only name a request that exists; `any` matches every message. Finding
// breakpoints (`finding`, `error`, `finding:ID`) resolve through the findings table and match what
// the decoders and the session analyser say about a message. Pure data: the relay thread owns it,
// the relay's debugger part does the holding and the decoding (debugger.cpp).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "captures/format/record.hpp"
#include "decoders/vhost_user/findings.hpp"
#include "decoders/vhost_user/wire.hpp"

namespace vhs {

class HoldPolicy {
 public:
  // `name`: a request name or alias from the registry (either channel), "any", "finding" (any
  // Warning or Error finding), "error" (any Error finding) or "finding:ID" (a finding id as dump
  // prints it after '!'). false and `error` set for an unknown name; adding an existing
  // breakpoint is a no-op.
  bool add(std::string_view name, std::string& error);
  // false and `error` set when no such breakpoint is set.
  bool remove(std::string_view name, std::string& error);
  bool empty() const { return breaks_.empty(); }
  // A breakpoint on a request stops at the request, not at its reply (a reply is the answer the
  // user is waiting for, and holding it would stop the front-end, not the message of interest).
  bool matches(Channel channel, const Header& header) const;
  // True when some breakpoint needs the message's findings (the relay then decodes and analyses).
  bool wants_findings() const { return finding_breaks_ > 0; }
  // The first of `findings` a finding breakpoint stops at, or nullptr.
  const Finding* matching_finding(std::span<const Finding> findings) const;
  // "SET_VRING_KICK any finding:size-mismatch" (canonical names, in the order set); "none" when
  // empty.
  std::string describe() const;

 private:
  enum class Kind : uint8_t { Request, Any, Severity, Code };
  struct Break {
    std::string name;  // canonical: registry name, "any", "finding", "error" or "finding:ID"
    Kind kind = Kind::Request;
    Channel channel = Channel::Frontend;
    uint32_t request = 0;
    Severity min_severity = Severity::Warning;
    FindingCode code = FindingCode::UnknownRequest;
  };
  bool parse(std::string_view name, Break& out, std::string& error) const;
  std::vector<Break> breaks_;
  size_t finding_breaks_ = 0;
};

}  // namespace vhs
