// Internals shared by the two replay roles (replay_frontend.cpp, replay_backend.cpp): the state
// of one replay run and the helpers both use — which recorded entries belong to the session,
// labels, comparing a live message with its recorded counterpart, and answers the recording does
// not provide. Not part of the public API (see replay.hpp).
#pragma once

#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "captures/diff/diff_fields.hpp"
#include "captures/model/store.hpp"
#include "proxy/log_text.hpp"
#include "proxy/replay.hpp"
#include "proxy/replay_fds.hpp"
#include "proxy/replay_io.hpp"

namespace vhs {

struct ReplayRun {
  ReplayRun(const Store& s, const StoreSession& sess, const ReplayOptions& o);

  const Store& store;
  const StoreSession& session;
  const ReplayOptions& opt;
  ReplayLink link;
  ReplayFds fds;
  ReplayResult result;
  std::vector<uint32_t> entries;  // the session's Message and Disconnect entries, in order

  void log(std::string_view text) const;
  void fail(std::string error);  // could not run at all
  void diverge(Divergence d);    // logs it too

  // "GET_FEATURES reply" for a recorded entry / a live message.
  std::string label(uint32_t entry) const;
  std::string label(const ReplayMessage& m) const;
  MessageView recorded_view(uint32_t entry) const;

  // Compares a live message with recorded entry `entry`; adds a ValueDiffers divergence when
  // anything differs (expected differences too: they are notes). True when no real difference.
  bool compare(uint32_t entry, const ReplayMessage& live);

  // Sends recorded entry `entry` (its bytes, or `bytes` when given) with re-created fds.
  // Returns the far end of a socketpair it made (the back-end channel), if any. false + a
  // Disconnect divergence when the peer is gone.
  bool send_recorded(uint32_t entry, std::span<const uint8_t> bytes,
                     UniqueFd* socket_end = nullptr);
};

// The u64 ack (flags 0x5) a receiver sends for a NEED_REPLY request (spec "REPLY_ACK").
std::vector<uint8_t> ack_message(uint32_t request, uint64_t value = 0);

// A neutral answer built from the registry's reply kind, for a request the recording has no
// answer for: u64 0 (success), the vring index with num 0, an echo of config/region payloads, an
// inflight description with mmap_size 0 (no fd). Empty when no answer is due.
std::vector<uint8_t> synthesized_answer(Channel channel, std::span<const uint8_t> request,
                                        const DecodeContext& ctx);

void replay_as_frontend(ReplayRun& run);
void replay_as_backend(ReplayRun& run);

}  // namespace vhs
