// Breakpoint set for step debugging (see hold_policy.hpp).
#include "proxy/hold_policy.hpp"

#include <algorithm>
#include <cctype>

#include "decoders/vhost_user/registry.hpp"

namespace vhs {

namespace {

std::string lower(std::string_view name) {
  std::string s(name);
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

bool HoldPolicy::parse(std::string_view name, Break& b, std::string& error) const {
  std::string low = lower(name);
  constexpr std::string_view kFindingPrefix = "finding:";
  if (low == "any") {
    b.name = "any";
    b.kind = Kind::Any;
  } else if (low == "finding" || low == "error") {
    b.name = low;
    b.kind = Kind::Severity;
    b.min_severity = low == "error" ? Severity::Error : Severity::Warning;
  } else if (low.rfind(kFindingPrefix, 0) == 0) {
    std::string_view id = std::string_view(low).substr(kFindingPrefix.size());
    auto all = all_findings();
    auto it =
        std::find_if(all.begin(), all.end(), [&](const FindingInfo& f) { return f.id == id; });
    if (it == all.end()) {
      error = "unknown finding id '" + std::string(id) +
              "' (use an id as 'vhostscope dump' prints it after '!', e.g. finding:size-mismatch)";
      return false;
    }
    b.name = "finding:" + std::string(it->id);
    b.kind = Kind::Code;
    b.code = it->code;
  } else if (const RequestInfo* info =
                 find_request_by_name(name)) {  // any case, VHOST_USER_ prefix or not
    b.name = std::string(info->name);
    b.kind = Kind::Request;
    b.channel = info->channel;
    b.request = info->number;
  } else {
    error =
        "unknown request name '" + std::string(name) +
        "' (use a name as 'vhostscope dump' prints it, 'any', 'finding', 'error' or 'finding:ID')";
    return false;
  }
  return true;
}

bool HoldPolicy::add(std::string_view name, std::string& error) {
  Break b;
  if (!parse(name, b, error)) return false;
  for (const Break& existing : breaks_)
    if (existing.name == b.name) return true;
  if (b.kind == Kind::Severity || b.kind == Kind::Code) ++finding_breaks_;
  breaks_.push_back(std::move(b));
  return true;
}

bool HoldPolicy::remove(std::string_view name, std::string& error) {
  Break b;
  std::string ignored;
  // An unparsable name cannot be set either: report it as "no breakpoint" with the list.
  auto it = parse(name, b, ignored) ? std::find_if(breaks_.begin(), breaks_.end(),
                                                   [&](const Break& x) { return x.name == b.name; })
                                    : breaks_.end();
  if (it == breaks_.end()) {
    error = "no breakpoint on '" + std::string(name) + "' (breakpoints: " + describe() + ")";
    return false;
  }
  if (it->kind == Kind::Severity || it->kind == Kind::Code) --finding_breaks_;
  breaks_.erase(it);
  return true;
}

bool HoldPolicy::matches(Channel channel, const Header& header) const {
  for (const Break& b : breaks_) {
    if (b.kind == Kind::Any) return true;
    if (b.kind == Kind::Request && !header.is_reply() && b.channel == channel &&
        b.request == header.request)
      return true;
  }
  return false;
}

const Finding* HoldPolicy::matching_finding(std::span<const Finding> findings) const {
  for (const Finding& f : findings)
    for (const Break& b : breaks_) {
      if (b.kind == Kind::Severity && f.severity() >= b.min_severity) return &f;
      if (b.kind == Kind::Code && f.code == b.code) return &f;
    }
  return nullptr;
}

std::string HoldPolicy::describe() const {
  if (breaks_.empty()) return "none";
  std::string s;
  for (const Break& b : breaks_) {
    if (!s.empty()) s += ' ';
    s += b.name;
  }
  return s;
}

}  // namespace vhs
