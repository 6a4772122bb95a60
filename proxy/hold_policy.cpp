// Breakpoint set for step debugging (see hold_policy.hpp).
#include "proxy/hold_policy.hpp"

#include <algorithm>
#include <cctype>

#include "decoders/registry.hpp"

namespace vhs {

namespace {

// Users type names the way they see them in dump output, in the spec or in QEMU's source:
// "set_vring_kick", "VHOST_USER_SET_VRING_KICK" and "SET_VRING_KICK" are the same request.
std::string normalise(std::string_view name) {
  std::string s(name);
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  constexpr std::string_view kPrefix = "VHOST_USER_";
  if (s.size() > kPrefix.size() && s.compare(0, kPrefix.size(), kPrefix) == 0) s.erase(0, kPrefix.size());
  return s;
}

}  // namespace

bool HoldPolicy::add(std::string_view name, std::string& error) {
  Break b;
  std::string key = normalise(name);
  if (key == "ANY") {
    b.name = "any";
    b.any = true;
  } else if (const RequestInfo* info = find_request_by_name(key)) {
    b.name = std::string(info->name);
    b.channel = info->channel;
    b.request = info->number;
  } else {
    error = "unknown request name '" + std::string(name) + "' (use a name as 'vhostscope dump' prints it, or 'any')";
    return false;
  }
  for (const Break& existing : breaks_)
    if (existing.name == b.name) return true;
  breaks_.push_back(std::move(b));
  return true;
}

bool HoldPolicy::remove(std::string_view name, std::string& error) {
  std::string key = normalise(name);
  std::string canonical = key == "ANY" ? "any" : key;
  if (const RequestInfo* info = key == "ANY" ? nullptr : find_request_by_name(key)) canonical = std::string(info->name);
  auto it = std::find_if(breaks_.begin(), breaks_.end(), [&](const Break& b) { return b.name == canonical; });
  if (it == breaks_.end()) {
    error = "no breakpoint on '" + std::string(name) + "' (breakpoints: " + describe() + ")";
    return false;
  }
  breaks_.erase(it);
  return true;
}

bool HoldPolicy::matches(Channel channel, const Header& header) const {
  for (const Break& b : breaks_) {
    if (b.any) return true;
    if (!header.is_reply() && b.channel == channel && b.request == header.request) return true;
  }
  return false;
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
