// The sockets of one replay session — the vhost-user socket and the back-end channel — with
// bounded waits on both at once (a peer may talk on either while we wait: spec "Back-end
// communication" lets the back-end send on its channel while the front-end waits for a reply),
// whole-message sends with their fds, and a Record of everything that crossed them for the
// replay's own capture (same format as `record`).
#pragma once

#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "captures/format/record.hpp"
#include "decoders/vhost_user/fd_info.hpp"
#include "decoders/vhost_user/wire.hpp"
#include "proxy/message_reader.hpp"
#include "proxy/unique_fd.hpp"

namespace vhs {

// One whole message the peer sent, with ownership of its fds.
struct ReplayMessage {
  Channel channel = Channel::Frontend;
  std::vector<uint8_t> bytes;
  std::vector<UniqueFd> fds;
  std::vector<FdInfo> fd_infos;  // described when received, before anyone uses the fds
  bool fds_truncated = false;

  Header header() const;
};

class ReplayLink {
 public:
  using Clock = std::chrono::steady_clock;

  // `outgoing`: the direction of everything we write (ToBackend when we play the front-end).
  ReplayLink(Direction outgoing, RecordSink* sink, uint32_t session);

  void set_main(UniqueFd fd);     // the vhost-user socket (made non-blocking here)
  void set_channel(UniqueFd fd);  // our end of the back-end channel (made non-blocking here)
  bool has_main() const { return main_.valid(); }
  bool has_channel() const { return chan_.valid(); }
  void close_main(std::string_view reason);  // records a Disconnect by us
  void close_channel(std::string_view reason);

  enum class Event { Message, Timeout, MainClosed, ChannelClosed, Failed };
  // Waits until a whole message arrived on either socket, one of them closed, or `deadline`
  // passed. A message cut short by a close is recorded (incomplete) and reported as the close.
  Event next(Clock::time_point deadline, ReplayMessage& out, std::string& error);

  // Sends one whole message, its fds with the first byte (as QEMU and libvhost-user do). Bounded
  // by `timeout` when the peer does not read. false + `error` when the peer is gone.
  bool send(Channel channel, std::span<const uint8_t> bytes, std::span<const int> fds,
            std::chrono::milliseconds timeout, std::string& error);

  void record_text(RecordKind kind, Channel channel, Direction direction, std::string_view text);

  uint64_t sent() const { return sent_; }
  uint64_t received() const { return received_; }

 private:
  Event read_from(Channel channel, ReplayMessage& out, std::string& error, bool& complete);
  void emit(Record& record);

  Direction outgoing_;
  RecordSink* sink_;
  uint32_t session_;
  UniqueFd main_, chan_;
  MessageReader main_reader_, chan_reader_;
  uint64_t sent_ = 0, received_ = 0;
};

// CLOCK_REALTIME in nanoseconds (capture timestamps).
uint64_t replay_now_ns();

}  // namespace vhs
