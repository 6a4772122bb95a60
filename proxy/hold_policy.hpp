// Breakpoints for step debugging through the relay: which messages make a relay direction stop
// and hold them. Names resolve through the decoder registry (the one table of request names), so
// a breakpoint can only name a request that exists; `any` matches every message. Pure data: the
// relay thread owns it, the relay does the holding (relay_hold.cpp).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "captures/record.hpp"
#include "decoders/wire.hpp"

namespace vhs {

class HoldPolicy {
 public:
  // `name`: a request name or alias from the registry (either channel), or "any". false and
  // `error` set for an unknown name; adding an existing breakpoint is a no-op.
  bool add(std::string_view name, std::string& error);
  // false and `error` set when no such breakpoint is set.
  bool remove(std::string_view name, std::string& error);
  bool empty() const { return breaks_.empty(); }
  // A breakpoint on a request stops at the request, not at its reply (a reply is the answer the
  // user is waiting for, and holding it would stop the front-end, not the message of interest).
  bool matches(Channel channel, const Header& header) const;
  // "SET_VRING_KICK any" (canonical names, in the order set); "none" when empty.
  std::string describe() const;

 private:
  struct Break {
    std::string name;  // canonical registry name, or "any"
    bool any = false;
    Channel channel = Channel::Frontend;
    uint32_t request = 0;
  };
  std::vector<Break> breaks_;
};

}  // namespace vhs
