// Notify record payload (docs/capture-format.md section 9.2).
#include "decoders/virtio/notify_record.hpp"

#include <fmt/format.h>

namespace vhs {
namespace {

// Payload offsets.
constexpr size_t kOffVersion = 0, kOffSource = 1, kOffHeaderLen = 2, kOffEvent = 4, kOffQueue = 6,
                 kOffCount = 8;

uint16_t le16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }
uint64_t le64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

std::optional<NotifyRecord> bad(std::string* error, std::string why) {
  if (error) *error = std::move(why);
  return std::nullopt;
}

}  // namespace

void encode_notify(const NotifyRecord& n, std::span<uint8_t, kNotifyRecordLen> b) {
  b[kOffVersion] = kNotifyVersion;
  b[kOffSource] = static_cast<uint8_t>(n.source);
  b[kOffHeaderLen] = static_cast<uint8_t>(kNotifyRecordLen);
  b[kOffHeaderLen + 1] = 0;
  b[kOffEvent] = static_cast<uint8_t>(n.event);
  b[kOffEvent + 1] = 0;
  b[kOffQueue] = static_cast<uint8_t>(n.queue);
  b[kOffQueue + 1] = static_cast<uint8_t>(n.queue >> 8);
  for (size_t i = 0; i < 8; ++i) b[kOffCount + i] = static_cast<uint8_t>(n.count >> (8 * i));
}

std::vector<uint8_t> encode_notify(const NotifyRecord& n) {
  std::vector<uint8_t> b(kNotifyRecordLen);
  encode_notify(n, std::span<uint8_t, kNotifyRecordLen>(b.data(), kNotifyRecordLen));
  return b;
}

std::optional<NotifyRecord> decode_notify(std::span<const uint8_t> bytes, std::string* error) {
  if (bytes.size() < 4)
    return bad(error, fmt::format("notify payload of {} bytes is shorter than its 4-byte preamble",
                                  bytes.size()));
  const uint8_t* p = bytes.data();
  if (p[kOffVersion] != kNotifyVersion)
    return bad(error, fmt::format("notify version {} is not supported (expected {})",
                                  p[kOffVersion], kNotifyVersion));
  const size_t header_len = le16(p + kOffHeaderLen);
  if (header_len < kNotifyRecordLen)
    return bad(error,
               fmt::format("notify header_len {} is below {}", header_len, kNotifyRecordLen));
  if (bytes.size() < header_len)
    return bad(error, fmt::format("notify payload of {} bytes is shorter than header_len {}",
                                  bytes.size(), header_len));
  if (p[kOffSource] > static_cast<uint8_t>(NotifySource::Err))
    return bad(error,
               fmt::format("notify source {} is not 0 (kick), 1 (call) or 2 (err)", p[kOffSource]));
  if (p[kOffEvent] > static_cast<uint8_t>(NotifyEvent::Closed))
    return bad(error, fmt::format("notify event {} is not one of 0..4", p[kOffEvent]));
  NotifyRecord n;
  n.source = static_cast<NotifySource>(p[kOffSource]);
  n.event = static_cast<NotifyEvent>(p[kOffEvent]);
  n.queue = le16(p + kOffQueue);
  n.count = le64(p + kOffCount);
  return n;
}

std::string_view notify_source_name(NotifySource s) {
  switch (s) {
    case NotifySource::Kick: return "kick";
    case NotifySource::Call: return "call";
    case NotifySource::Err: return "err";
  }
  return "?";
}

std::string_view notify_event_name(NotifyEvent e) {
  switch (e) {
    case NotifyEvent::Relayed: return "relayed";
    case NotifyEvent::Held: return "held";
    case NotifyEvent::Released: return "released";
    case NotifyEvent::Interposed: return "interposed";
    case NotifyEvent::Closed: return "closed";
  }
  return "?";
}

std::string describe_notify(const NotifyRecord& n) {
  switch (n.event) {
    case NotifyEvent::Relayed:
      return fmt::format("q{} {} ×{}", n.queue, notify_source_name(n.source), n.count);
    case NotifyEvent::Held:
    case NotifyEvent::Released:
      return fmt::format("q{} {} {} ×{}", n.queue, notify_source_name(n.source),
                         notify_event_name(n.event), n.count);
    case NotifyEvent::Interposed:
    case NotifyEvent::Closed: break;
  }
  return fmt::format("q{} {} {}", n.queue, notify_source_name(n.source),
                     notify_event_name(n.event));
}

}  // namespace vhs
