// One capture record: what the proxy saw at one instant (a relayed message, a connect, a
// disconnect, a transport error). The same type flows from the proxy (live) and from a capture
// file (offline) into the ingest path, so nothing downstream can tell the two apart.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "decoders/vhost_user/fd_info.hpp"
#include "decoders/vhost_user/wire.hpp"

namespace vhs {

enum class RecordKind : uint8_t {
  Message = 1,  // bytes = the whole vhost-user message (header + payload) as relayed
  Connect = 2,  // bytes = UTF-8 note (peer description); starts session `session` on `channel`
  Disconnect =
      3,      // bytes = UTF-8 reason; which side closed is `direction` (ToBackend: frontend closed)
  Error = 4,  // bytes = UTF-8 description of a transport error (could not relay, garbage, CTRUNC)
  RingState = 5,  // bytes = ring-state snapshot (issue 4)
  Notify = 6,     // bytes = notification record (issue 4, --interpose-notify)
};

std::string_view record_kind_name(RecordKind k);

// Record flag bits (pseudo-header `flags`).
inline constexpr uint16_t kRecordFdsTruncated = 0x1;  // MSG_CTRUNC: the kernel dropped fds
inline constexpr uint16_t kRecordIncomplete = 0x2;  // message cut short (peer vanished mid-message)
inline constexpr uint16_t kRecordNotRelayed = 0x4;  // recorded but not forwarded (unsafe to relay)
inline constexpr uint16_t kRecordInjected = 0x8;    // produced by fault injection, not by a peer
// On a Disconnect: the proxy ended the session itself (recorder stopped), no peer hung up. Requests
// still waiting then are unanswered (a hang), not victims of a disconnect.
inline constexpr uint16_t kRecordClosedByProxy = 0x10;
// On an Error: a guest memory region's fd shrank below the region while the proxy read it (the
// finding region-beyond-fd, not a relay failure).
inline constexpr uint16_t kRecordRegionBeyondFd = 0x20;
// A copy of an earlier record, repeated at the start of a rotated capture file (`record -C`) or a
// flight-recorder window (`record --on-finding`) so the file decodes on its own: the session's
// Connect and negotiation, requests still waiting for an answer, the newest ring state. Readers
// analyse it like the original; a count of relayed messages across files skips it.
inline constexpr uint16_t kRecordRepeated = 0x40;
// On a Disconnect (with kRecordClosedByProxy): a flight-recorder window ends here, the session
// itself went on. It tells a reader how long the recorder watched after the window's last
// message: a request still waiting then has waited until here (a hang is silent).
inline constexpr uint16_t kRecordWindowEnd = 0x80;

struct Record {
  RecordKind kind = RecordKind::Message;
  Direction direction = Direction::ToBackend;
  Channel channel = Channel::Frontend;
  uint16_t flags = 0;
  uint32_t session = 0;       // 1-based: each front-end connection is a new session
  uint64_t timestamp_ns = 0;  // CLOCK_REALTIME nanoseconds
  std::vector<FdInfo> fds;    // descriptions of the fds that travelled with the message
  std::vector<uint8_t> bytes;

  std::string_view text() const {  // for Connect/Disconnect/Error
    return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
  }
};

// A record whose bytes and fd descriptions live elsewhere (a memory-mapped capture, a reader's
// scratch): the fields of Record without copies. Valid as long as what it points into.
struct RecordView {
  RecordKind kind = RecordKind::Message;
  Direction direction = Direction::ToBackend;
  Channel channel = Channel::Frontend;
  uint16_t flags = 0;
  uint32_t session = 0;
  uint64_t timestamp_ns = 0;
  std::span<const FdInfo> fds;
  std::span<const uint8_t> bytes;

  RecordView() = default;
  explicit RecordView(const Record& r)
      : kind(r.kind),
        direction(r.direction),
        channel(r.channel),
        flags(r.flags),
        session(r.session),
        timestamp_ns(r.timestamp_ns),
        fds(r.fds),
        bytes(r.bytes) {}

  std::string_view text() const {
    return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
  }
};

// Where producers (proxy, file reader) deliver records. Called from the producing thread.
class RecordSink {
 public:
  virtual ~RecordSink() = default;
  virtual void on_record(const Record& record) = 0;
};

}  // namespace vhs
