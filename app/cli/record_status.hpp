// `record --status`: follows every session's RingState records (a sink on the relay thread) in a
// RingTimeline, the same hang logic the Store applies offline, and from its own thread prints to
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
#include "captures/model/ring_timeline.hpp"

namespace vhs::cli {

class RecordStatus final : public RecordSink {
 public:
  RecordStatus();
  ~RecordStatus() override;  // stops the printing thread
  void on_record(const Record& record) override;

  // The lines one tick prints at `now_ns` (CLOCK_REALTIME); public for tests.
  std::string tick(uint64_t now_ns);

 private:
  struct SessionStatus {
    RingTimeline rings;
    std::vector<bool> end_printed;  // per episode: its end was printed (once)
  };

  void run();

  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::map<uint32_t, SessionStatus> sessions_;
  std::vector<size_t> scratch_;
  std::thread thread_;
};

}  // namespace vhs::cli
