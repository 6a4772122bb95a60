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

// Hold: the first request is completed; every later one is taken from the ring (and marked in the
// inflight buffer) but never completed, as by a back-end busy with them when it crashes.
enum class RingFault { None, DuplicateUsed, WrongLength, UnknownHead, Hold };

// INFLIGHT_SHMFD (spec "Inflight I/O tracking"): not offered, or offered with this answer to
// GET_INFLIGHT_FD: a good buffer, mmap_size 0 (declined), no fd, a size that does not hold the
// rings, an fd smaller than the size it announces, an offset that is not a page multiple.
enum class InflightReply { NotOffered, Good, Declined, NoFd, TooSmall, FdShort, OddOffset };

// What the front-end sent with SET_INFLIGHT_FD.
struct SeenInflight {
  uint64_t mmap_size = 0, mmap_offset = 0;
  uint16_t num_queues = 0, queue_size = 0;
  bool fd_is_ours = false;  // the fd is the memfd this back-end handed out
};

class FaultyRingBackend {
 public:
  FaultyRingBackend(std::string path, RingFault fault, Millis timeout = Millis(5000),
                    bool packed = false);
  // An INFLIGHT_SHMFD back-end (split rings) answering GET_INFLIGHT_FD as `inflight` says.
  FaultyRingBackend(std::string path, RingFault fault, Millis timeout, InflightReply inflight);
  ~FaultyRingBackend();  // stops and joins the thread
  FaultyRingBackend(const FaultyRingBackend&) = delete;
  FaultyRingBackend& operator=(const FaultyRingBackend&) = delete;

  // Stops and joins the thread now, so what it saw can be read.
  void join();

  // Valid once the thread ended (after join() or the destructor's, or when the peer closed).
  const std::vector<std::string>& errors() const { return errors_; }
  // Valid after the join too: every SET_INFLIGHT_FD, and the GET_INFLIGHT_FD request's counts.
  const std::vector<SeenInflight>& set_inflight() const { return set_inflight_; }
  uint16_t asked_queues() const { return asked_queues_; }
  uint16_t asked_queue_size() const { return asked_queue_size_; }
  // Every front-end request in order, SET_VRING_BASE's num for queue 0, and how many chains were
  // resubmitted from the inflight buffer at SET_VRING_KICK.
  const std::vector<uint32_t>& requests() const { return requests_; }
  uint32_t vring_base() const { return vring_base_; }
  size_t resubmitted() const { return resubmitted_; }

 private:
  struct Region {
    uint64_t gpa = 0, size = 0, uva = 0;
    uint8_t* host = nullptr;
  };
  void run();
  bool on_message(ReceivedMessage& m);
  bool answer_get_inflight(const uint8_t* payload);
  void on_kick();
  void on_kick_packed();
  // Split inflight region of queue 0 (spec "Inflight I/O tracking"), or nullptr.
  uint8_t* inflight_region() const;
  void map_inflight(int fd, uint64_t size, uint64_t offset);
  void resubmit_inflight();
  void complete(uint16_t head);
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
  InflightReply inflight_;
  UniqueFd inflight_fd_;
  std::vector<SeenInflight> set_inflight_;
  uint16_t asked_queues_ = 0, asked_queue_size_ = 0;
  uint8_t* inflight_map_ = nullptr;
  uint64_t inflight_map_size_ = 0;
  std::vector<uint32_t> requests_;
  uint32_t vring_base_ = 0;
  size_t resubmitted_ = 0;
  size_t taken_ = 0;
  std::thread thread_;
};

}  // namespace vhs::test
