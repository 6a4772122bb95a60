// `record --status`: remembers the latest RingState of every queue (a sink on the relay thread)
// and prints one compact line per queue to stderr every second from its own thread.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "captures/record.hpp"

namespace vhs::cli {

class RecordStatus final : public RecordSink {
 public:
  RecordStatus();
  ~RecordStatus() override;  // stops the printing thread
  void on_record(const Record& record) override;

 private:
  void run();

  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  uint32_t session_ = 0;
  std::map<uint32_t, std::string> lines_;  // queue -> describe_ring_snapshot
  std::thread thread_;
};

}  // namespace vhs::cli
