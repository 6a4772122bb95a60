// A scripted vhost-user back-end that also works one virtqueue (queue 0) and breaks its used ring
// on purpose: a duplicate used entry, a length beyond the chain's writable bytes, or a head that
// was never made available. It answers the protocol minimally (VERSION_1, PROTOCOL_FEATURES,
// REPLY_ACK) and otherwise completes requests with a zero status byte. Written independently of
// proxy/ so the exercise engine is checked against separate code. One session, its own thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "support/wire_io.hpp"

namespace vhs::test {

enum class RingFault { None, DuplicateUsed, WrongLength, UnknownHead };

class FaultyRingBackend {
 public:
  FaultyRingBackend(std::string path, RingFault fault, Millis timeout = Millis(5000));
  ~FaultyRingBackend();  // stops and joins the thread
  FaultyRingBackend(const FaultyRingBackend&) = delete;
  FaultyRingBackend& operator=(const FaultyRingBackend&) = delete;

  // Valid once the thread ended (after the destructor's join, or when the peer closed).
  const std::vector<std::string>& errors() const { return errors_; }

 private:
  struct Region {
    uint64_t gpa = 0, size = 0, uva = 0;
    uint8_t* host = nullptr;
  };
  void run();
  bool on_message(ReceivedMessage& m);
  void on_kick();
  uint8_t* at_uva(uint64_t uva) const;
  uint8_t* at_gpa(uint64_t gpa) const;

  std::string path_;
  RingFault fault_;
  Millis timeout_;
  UniqueFd listener_, sock_, kick_, call_;
  std::vector<Region> regions_;
  uint16_t size_ = 0, last_avail_ = 0;
  uint64_t desc_ = 0, avail_ = 0, used_ = 0;  // UVAs
  std::atomic<bool> stop_{false};
  std::vector<std::string> errors_;
  std::thread thread_;
};

}  // namespace vhs::test
