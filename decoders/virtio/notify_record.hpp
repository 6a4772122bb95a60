// Notify records (capture kind 6, `record --interpose-notify`): one interposed kick, call or err
// eventfd notification, or the setup/teardown of an interposed eventfd pair. A versioned,
// little-endian 16-byte payload (docs/capture-format.md section 9.2) and its pure decoder.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace vhs {

// Which eventfd of a queue: the request that set it up (SET_VRING_KICK / CALL / ERR).
enum class NotifySource : uint8_t { Kick = 0, Call = 1, Err = 2 };

enum class NotifyEvent : uint8_t {
  Relayed = 0,     // `count` read from the writer's eventfd and written on at once
  Held = 1,        // `count` read while the queue's notifications of this source are held
  Released = 2,    // `count` of the held ones written on (step / continue / unhold)
  Interposed = 3,  // the pair was set up; fds: [0] the front-end's eventfd, [1] the back-end's
  Closed = 4,      // the pair was torn down (replaced, GET_VRING_BASE, reset, polling, session end)
};

struct NotifyRecord {
  NotifySource source = NotifySource::Kick;
  NotifyEvent event = NotifyEvent::Relayed;
  uint16_t queue = 0;
  uint64_t count = 0;  // eventfd counter value (notifications coalesced by the kernel)
  bool operator==(const NotifyRecord&) const = default;
};

inline constexpr uint8_t kNotifyVersion = 1;
inline constexpr size_t kNotifyRecordLen = 16;

// Writes the 16-byte payload into `out` (no allocation: the relay reuses one buffer).
void encode_notify(const NotifyRecord& n, std::span<uint8_t, kNotifyRecordLen> out);
std::vector<uint8_t> encode_notify(const NotifyRecord& n);
// nullopt on a malformed or unsupported payload, with the reason in *error when given. Bytes after
// header_len are ignored (later versions may append).
std::optional<NotifyRecord> decode_notify(std::span<const uint8_t> bytes,
                                          std::string* error = nullptr);

std::string_view notify_source_name(NotifySource s);  // "kick" / "call" / "err"
std::string_view notify_event_name(NotifyEvent e);    // "relayed" / "held" / ...
// "q0 kick ×3", "q1 call held ×2", "q0 kick interposed": one line for dump.
std::string describe_notify(const NotifyRecord& n);

}  // namespace vhs
