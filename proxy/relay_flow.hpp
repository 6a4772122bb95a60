// One direction of one channel inside the relay: the socket it reads, the socket it writes, the
// message being read and the message being sent. A message is sent with ONE send call carrying
// exactly the fds it arrived with; if the destination is full the rest is sent when it becomes
// writable, and the source is not read meanwhile (a queue of depth one: the seam where the
// debugger holds a message at a breakpoint).
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include <sys/types.h>

#include "captures/format/record.hpp"
#include "decoders/vhost_user/wire.hpp"
#include "proxy/message_reader.hpp"
#include "proxy/unique_fd.hpp"

namespace vhs {

// A relayed socket and its epoll registration.
struct RelayConn {
  UniqueFd fd;
  uint8_t id = 0;       // low byte of the epoll token
  uint32_t events = 0;  // currently registered epoll events; 0 = not registered
};

class RelayFlow {
 public:
  enum class SendStatus { Done, Blocked, Failed };

  RelayFlow(Channel channel, Direction direction, RelayConn* src, RelayConn* dst)
      : channel_(channel), direction_(direction), src_(src), dst_(dst) {
    record_.channel = channel;
    record_.direction = direction;
  }

  Channel channel() const { return channel_; }
  Direction direction() const { return direction_; }
  RelayConn& src() { return *src_; }
  RelayConn& dst() { return *dst_; }
  MessageReader& reader() { return reader_; }
  const MessageReader& reader() const { return reader_; }
  Record& record() { return record_; }  // reused for every message: no allocation per message
  bool sending() const { return sending_; }
  // Step debugging (debugger.hpp): a held message has had begin_send() but is not pushed; the
  // source stays unread (sending() is true), the destination is not waited on (pushing() false).
  bool held() const { return held_; }
  bool pushing() const { return sending_ && !held_; }
  void set_held(bool held, uint64_t order = 0) {
    held_ = held;
    hold_order_ = order;
  }
  uint64_t hold_order() const { return hold_order_; }
  bool stopped = false;   // after a breakpoint hit: every message is held until `continue`
  std::string hold_note;  // why the held message was held, when a finding stopped it ("" otherwise)
  // Fault injection: how long the current message waits before it goes (0: not delayed), and
  // when it goes once it waits (time_since_epoch 0: not waiting yet).
  std::chrono::milliseconds pending_delay{0};
  std::chrono::steady_clock::time_point delayed_until{};

  // Starts relaying the complete message in reader(): the fds sent are the received ones, except
  // that fd `substitute_index` (if >= 0) is replaced by `substitute`, which is closed once sent.
  void begin_send(int substitute_index = -1, UniqueFd substitute = {});
  // Pushes as much as the destination takes. Done: message gone, fds closed, reader moved on to
  // the next message (which may already be buffered: reader().ready()).
  SendStatus continue_send(int& err);
  // Drops everything (session ending): closes held fds.
  void reset();

 private:
  // One send call for the rest of the message; the fds go with it when `with_fds`.
  ssize_t send_some(std::span<const uint8_t> rest, bool with_fds);
  Channel channel_;
  Direction direction_;
  RelayConn* src_;
  RelayConn* dst_;
  MessageReader reader_;
  Record record_;
  bool sending_ = false;
  size_t sent_ = 0;
  std::array<int, kMaxFdsPerMessage> send_fds_{};
  size_t send_fd_count_ = 0;
  UniqueFd substitute_;
  bool held_ = false;
  uint64_t hold_order_ = 0;
};

// Wall-clock time for record timestamps.
uint64_t realtime_ns();
// Copies the message in the flow's reader into its reused record (no allocation once warmed up).
void fill_record(RelayFlow& flow, uint32_t session, uint16_t flags);
// "front-end" / "back-end": the side that wrote a message travelling in `d`.
std::string_view writer_side(Direction d);
// "front-end sent SET_VRING_KICK", "back-end sent ... on the back-end channel".
std::string describe_message(const RelayFlow& flow);

}  // namespace vhs
