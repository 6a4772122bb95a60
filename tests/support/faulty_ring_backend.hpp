// A scripted vhost-user back-end that also works one virtqueue (queue 0) and breaks its used ring
// on purpose: a duplicate used entry, a length beyond the chain's writable bytes, or a head that
// was never made available. It answers the protocol minimally (VERSION_1, PROTOCOL_FEATURES,
// REPLY_ACK) and otherwise completes requests with a zero status byte. With `packed` it offers
// RING_PACKED too and works queue 0 as a packed ring (VIRTIO "Packed Virtqueues"). Written
// independently of proxy/ so the exercise engine is checked against separate code. One session,
// its own thread.
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
  FaultyRingBackend(std::string path, RingFault fault, Millis timeout = Millis(5000),
                    bool packed = false);
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
  void on_kick_packed();
  uint8_t* at_uva(uint64_t uva) const;
  uint8_t* at_gpa(uint64_t gpa) const;

  std::string path_;
  RingFault fault_;
  Millis timeout_;
  UniqueFd listener_, sock_, kick_, call_;
  std::vector<Region> regions_;
  bool packed_ = false;
  uint16_t size_ = 0, last_avail_ = 0;
  // Packed: the next descriptor to read and to write a used entry at, with wrap counters.
  uint16_t avail_pos_ = 0, used_pos_ = 0;
  bool avail_wrap_ = true, used_wrap_ = true;
  uint64_t desc_ = 0, avail_ = 0, used_ = 0;  // UVAs
  std::atomic<bool> stop_{false};
  std::vector<std::string> errors_;
  std::thread thread_;
};

}  // namespace vhs::test
