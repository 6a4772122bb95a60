// A scripted virtio-net back-end on split rings that sends every frame transmitted on queue 1
// back on queue 0, unchanged, into the next receive buffer (dropped when there is none), as
// dpdk-testpmd does in `io` forwarding. It answers the protocol minimally (VERSION_1,
// PROTOCOL_FEATURES; REPLY_ACK), stops a ring at GET_VRING_BASE (spec "Ring states") and
// serves one front-end after another until it is stopped. With DropReceiveBuffers it answers
// GET_VRING_BASE of queue 0 with the avail index, as if it had used every receive buffer made
// available, and forgets those it had not filled: the fault lifecycle.stop-restart must catch.
// With DuplicateFrames it sends every frame back twice, into two receive buffers.
// Written independently of proxy/ so the engine is checked against separate code. Its own thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "support/wire_io.hpp"

namespace vhs::test {

enum class NetLoopFault { None, DropReceiveBuffers, DuplicateFrames };

class LoopbackNetBackend {
 public:
  LoopbackNetBackend(std::string path, NetLoopFault fault, Millis timeout = Millis(5000));
  ~LoopbackNetBackend();  // stops and joins the thread
  LoopbackNetBackend(const LoopbackNetBackend&) = delete;
  LoopbackNetBackend& operator=(const LoopbackNetBackend&) = delete;

  void join();
  // Valid after join(): frames sent back, frames dropped for want of a receive buffer, sessions.
  uint64_t looped() const { return looped_; }
  uint64_t dropped() const { return dropped_; }
  unsigned sessions() const { return sessions_; }

 private:
  struct Region {
    uint64_t gpa = 0, size = 0, uva = 0;
    uint8_t* host = nullptr;
  };
  struct Ring {
    uint16_t size = 0, last_avail = 0;
    uint64_t desc = 0, avail = 0, used = 0;  // UVAs
    UniqueFd kick, call;
  };
  void run();
  void serve();
  bool on_message(ReceivedMessage& m);
  void unmap();
  void on_transmit();
  void deliver(const std::vector<uint8_t>& packet);
  void push_used(Ring& r, uint16_t head, uint32_t len);
  uint16_t avail_idx(const Ring& r) const;
  uint8_t* at_uva(uint64_t uva) const;
  uint8_t* at_gpa(uint64_t gpa, uint64_t len) const;

  std::string path_;
  NetLoopFault fault_;
  Millis timeout_;
  UniqueFd listener_, sock_;
  std::vector<Region> regions_;
  Ring rings_[2];
  std::atomic<bool> stop_{false};
  uint64_t looped_ = 0, dropped_ = 0;
  unsigned sessions_ = 0;
  std::thread thread_;
};

}  // namespace vhs::test
