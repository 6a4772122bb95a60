// The exercise engine's vhost-user connection as the FRONT-END: sends requests built from the
// registry, awaits every reply the spec requires (with a timeout) and checks it, and answers what
// the back-end sends on its channel meanwhile (spec "Back-end communication"). Everything that
// crosses either socket is recorded through ReplayLink, numbered as `dump` numbers records.
#pragma once

#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "captures/format/record.hpp"
#include "decoders/vhost_user/registry.hpp"
#include "proxy/exercise/driver_io.hpp"
#include "proxy/exercise/message_build.hpp"
#include "proxy/replay_io.hpp"
#include "proxy/unix_socket.hpp"

namespace vhs::exercise {

// Counts records on their way to the capture (or to nowhere), so a check can name the record
// numbers `dump` shows (#1 is the first record of the capture).
class CountingSink final : public RecordSink {
 public:
  explicit CountingSink(RecordSink* next) : next_(next) {}
  void on_record(const Record& record) override {
    ++count_;
    if (next_) next_->on_record(record);
  }
  uint64_t count() const { return count_; }

 private:
  RecordSink* next_;
  uint64_t count_ = 0;
};

struct Reply {
  Header header;
  Bytes payload;
  std::vector<UniqueFd> fds;
  uint64_t record = 0;  // its record number

  // The payload as one u64 (features, queue count, an ack); 0 when it is shorter.
  uint64_t u64() const;
};

class FrontendLink {
 public:
  using Clock = std::chrono::steady_clock;

  FrontendLink(RecordSink* capture, std::chrono::milliseconds timeout);

  // Connects to a listening back-end (retrying until `wait` passes), or waits for a back-end to
  // connect to `listen_path`. false + error when no back-end came.
  bool connect(const std::string& path, std::chrono::milliseconds wait, std::string& error);
  bool accept(const std::string& listen_path, std::chrono::milliseconds wait, std::string& error);
  void disconnect(std::string_view reason);
  bool connected() const { return link_.has_main(); }

  // The protocol features acked so far: REPLY_ACK makes every request ask for an ack, LOG_SHMFD
  // gives SET_LOG_BASE a reply.
  void set_acked_protocol_features(uint64_t bits) { protocol_features_ = bits; }
  uint64_t acked_protocol_features() const { return protocol_features_; }

  // Sends one request and waits for what the spec says comes back: the intrinsic reply, or the
  // ack when REPLY_ACK is negotiated (then NEED_REPLY is set on every request that can take it).
  // A reply with the wrong request, flags or size, or a non-zero ack, is an error naming the
  // record numbers. Requests without an answer return an empty Reply.
  Outcome<Reply> call(FrontendRequest request, std::span<const uint8_t> payload,
                      std::span<const int> fds = {});

  // Hands the back-end its channel (SET_BACKEND_REQ_FD) and keeps our end.
  Outcome<Reply> open_backend_channel();
  // Answers whatever the back-end sent on its channel so far, without waiting.
  void service_backend_channel();

  void record_ring_state(std::span<const uint8_t> encoded_snapshot);  // a RingState record
  void record_note(RecordKind kind, std::string_view text);

  uint64_t records() const { return counter_.count(); }
  std::chrono::milliseconds timeout() const { return timeout_; }

 private:
  Outcome<Reply> exchange(FrontendRequest request, std::span<const uint8_t> payload,
                          std::span<const int> fds, bool ask_ack);
  void answer_backend(const ReplayMessage& m);

  CountingSink counter_;
  ReplayLink link_;
  ListenSocket listener_;
  std::chrono::milliseconds timeout_;
  uint64_t protocol_features_ = 0;
};

}  // namespace vhs::exercise
