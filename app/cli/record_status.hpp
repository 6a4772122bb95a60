// `record --status`: follows every session (a sink on the relay thread) with LiveSessions — the
// session analyser and ring hang rules the Store applies offline, so a disabled ring or a net
// receive queue waiting for packets is no stall live either — and from its own thread prints to
// stderr every second one compact line per queue plus one per ring hang, current or just ended:
//   vhostscope: status s1 q0 split size 128 avail 17 used 14 ... inflight 3 ...
//   vhostscope: status s1 ring-stalled q0: queue 0: 3 buffers in flight, ... — still stalled, 2.10
//   s vhostscope: status s1 ring-stalled ended q0: ... — stalled 3.20 s, drained
#pragma once

#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "captures/format/record.hpp"
#include "captures/model/live_sessions.hpp"

namespace vhs::cli {

class RecordStatus final : public RecordSink {
 public:
  RecordStatus();
  ~RecordStatus() override;  // stops the printing thread
  void on_record(const Record& record) override;

  // The lines one tick prints at `now_ns` (CLOCK_REALTIME); public for tests.
  std::string tick(uint64_t now_ns);

 private:
  void run();

  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  LiveSessions live_;
  std::map<uint32_t, std::vector<bool>> end_printed_;  // per session and episode: end printed
  std::vector<LiveFinding> raised_;                    // scratch: status prints episodes itself
  std::thread thread_;
};

}  // namespace vhs::cli
