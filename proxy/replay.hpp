// Replaying one recorded vhost-user session against a live peer: as the FRONT-END towards a real
// back-end (send the recorded front-end messages with re-created fds, service the back-end
// channel, compare each reply with the recorded one), or as the BACK-END towards a real front-end
// (answer each request with the recorded reply, compare the front-end's requests with the
// recorded ones). The result lists every divergence; the CLI `replay` prints it.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "captures/format/record.hpp"
#include "captures/model/store.hpp"
#include "proxy/replay_divergence.hpp"
#include "proxy/replay_fds.hpp"

namespace vhs {

enum class ReplayRole : uint8_t {
  Frontend,  // we play the recorded front-end; connect to a back-end listening at `socket_path`
  Backend,   // we play the recorded back-end; listen at `socket_path` for a front-end
};

enum class ReplayPace : uint8_t {
  Fast,      // send as soon as the previous exchange completed
  Recorded,  // keep the recorded gaps between messages (front-end) / reply latencies (back-end)
};

struct ReplayOptions {
  ReplayRole role = ReplayRole::Frontend;
  std::string socket_path;
  uint32_t session = 0;  // capture session id; 0 = the first session with messages
  ReplayPace pace = ReplayPace::Fast;
  // How long a reply (or, as the back-end, the front-end's next request beyond its recorded gap)
  // may take before it counts as missing.
  std::chrono::milliseconds reply_timeout{5000};
  // How long to wait for the peer to be there: the back-end to listen, the front-end to connect.
  std::chrono::milliseconds connect_timeout{10000};
  // The most bytes of memory objects (guest RAM memfds, log and inflight areas) the replay
  // re-creates in total; a capture that needs more fails with an error naming the option.
  uint64_t max_guest_memory = kDefaultReplayMemoryCap;
  RecordSink* sink = nullptr;  // the replay's own records (same format as `record`), optional
  std::function<void(std::string_view)> log;  // progress and notes, optional
};

enum class ReplayStatus : uint8_t {
  Same,      // every exchange matched (expected differences only)
  Diverged,  // at least one divergence
  Failed,    // could not run (see error)
};

struct ReplayResult {
  ReplayStatus status = ReplayStatus::Failed;
  std::string error;                    // Failed: what went wrong, one line
  uint32_t session = 0;                 // the recorded session replayed
  uint64_t recorded_messages = 0;       // messages of that session in the capture
  uint64_t sent = 0, received = 0;      // messages the replay exchanged
  std::vector<Divergence> divergences;  // in the order found; expected ones included (notes)

  size_t real_divergences() const;
};

// Runs the replay of `store` (a loaded capture) on the calling thread; every wait is bounded by
// the options' timeouts.
ReplayResult run_replay(const Store& store, const ReplayOptions& options);

}  // namespace vhs
