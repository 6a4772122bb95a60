// Fault injection for the relay, only when asked for by name (`record --inject`, `ctl inject`):
// drop a request, delay it, or answer it with a reply the user wrote. Request names resolve through
// the decoder registry; a replacement reply is checked to be a well-formed reply to that request
// when the injection is set, so a typo fails at once instead of confusing a peer. Pure data: the
// relay thread owns it, the relay's debugger part applies it (debugger_inject.cpp) and records
// everything it did with kRecordInjected.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "decoders/vhost_user/wire.hpp"

namespace vhs {

enum class InjectAction : uint8_t {
  Drop,          // the request is recorded, not relayed; its fds are closed
  Delay,         // the request is relayed `delay` later; its direction reads nothing meanwhile
  ReplaceReply,  // the peer's reply to the request is recorded, not relayed; `reply` goes instead
};

struct Injection {
  InjectAction action = InjectAction::Drop;
  std::string spec;                     // canonical: "drop:SET_VRING_KICK", "delay:SET_OWNER:100",
                                        // "replace-reply:GET_FEATURES:..."
  Channel channel = Channel::Frontend;  // the request's channel
  uint32_t request = 0;
  std::chrono::milliseconds delay{0};
  std::vector<uint8_t> reply;  // whole message, header included
};

class InjectPolicy {
 public:
  // `spec`: drop:NAME, delay:NAME:MS or replace-reply:NAME:HEX (HEX: the whole reply message,
  // header included, e.g. from `vhostscope dump -x`; spaces and ':' between bytes are allowed).
  // Setting a second injection for the same action and request replaces the first.
  bool add(std::string_view spec, std::string& error);
  // `spec`: as given to add(), or just ACTION:NAME.
  bool remove(std::string_view spec, std::string& error);
  bool empty() const { return injections_.empty(); }
  // The drop or delay injection for a request (never a reply), or nullptr.
  const Injection* for_request(Channel channel, const Header& header) const;
  // The replace-reply injection a reply (or ack) on `channel` answers, or nullptr.
  const Injection* for_reply(Channel channel, const Header& header) const;
  // "drop:SET_VRING_KICK delay:SET_OWNER:100" in the order set; "none" when empty.
  std::string describe() const;

 private:
  std::vector<Injection> injections_;
};

}  // namespace vhs
