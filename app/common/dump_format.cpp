// What `dump` prints for one store entry: the one-line form, its parts and the -V detail block.
#include "app/common/dump_format.hpp"

#include <fmt/format.h>

#include "app/common/text_format.hpp"
#include "decoders/session/ring_health.hpp"
#include "decoders/vhost_user/field_format.hpp"
#include "decoders/virtio/notify_record.hpp"
#include "decoders/virtio/ring_detail.hpp"
#include "decoders/virtio/ring_snapshot.hpp"

namespace vhs {

std::string entry_time(const Store& store, size_t i, const LineOptions& options) {
  const uint64_t ts = store.entry(i).timestamp_ns;
  switch (options.time) {
    case TimeFormat::Relative: break;
    case TimeFormat::Delta: return relative_time(ts, options.previous_ns.value_or(ts));
    case TimeFormat::Absolute: return absolute_time_of_day(ts);
    case TimeFormat::AbsoluteDate: return absolute_time(ts);
  }
  return relative_time(ts, store.first_timestamp());
}

std::string entry_title(const Store& store, size_t i) {
  const StoreEntry& e = store.entry(i);
  switch (e.kind) {
    case RecordKind::Message: break;
    case RecordKind::Disconnect:
      // The recorder's own closes (stopping, or ending a session a peer broke) are flagged; else
      // the direction says who hung up: a "to back-end" disconnect is the front-end's.
      if (e.record_flags & kRecordWindowEnd)
        return "end of the flight-recorder window (the session went on)";
      if (e.record_flags & kRecordClosedByProxy) return "disconnect (closed by the recorder)";
      return e.direction == Direction::ToBackend ? "disconnect (front-end closed)"
                                                 : "disconnect (back-end closed)";
    default: return std::string(record_kind_name(e.kind));
  }
  if (!e.header_complete) return fmt::format("(incomplete header, {} bytes)", e.bytes_size);
  std::string title =
      e.info ? std::string(e.info->name) : request_text(e.channel, e.header.request);
  if (e.header.is_reply()) title += e.role == MessageRole::Ack ? kAckTitleSuffix : kReplyTitleSuffix;
  return title;
}

std::string entry_summary(const Store& store, size_t i) {
  const StoreEntry& e = store.entry(i);
  if (e.kind != RecordKind::Message) {
    if (e.kind == RecordKind::Notify) {
      std::string error;
      auto n = decode_notify(store.bytes(i), &error);
      if (!n) return "(" + error + ")";
      std::string s = describe_notify(*n);
      if (const std::string fds = format_fds(store.fds(i)); !fds.empty()) s += ' ' + fds;
      return s;
    }
    if (e.kind == RecordKind::RingState) {
      std::string error;
      const auto snapshot = store.ring_snapshot(i, &error);
      // Buffer details quote guest memory (file names, frames): escaped like any outside text.
      return snapshot ? escape_text(describe_ring_snapshot(*snapshot)) : "(" + error + ")";
    }
    return e.bytes_size ? quote_text(store.text(i)) : std::string();
  }
  // Payload summaries can quote peer bytes (names, tags): escaped like any outside text.
  std::string s = escape_text(summarize_payload(store.decoded(i), store.context(i)));
  const std::string fds = format_fds(store.fds(i));
  if (!fds.empty()) {
    if (!s.empty()) s += ' ';
    s += fds;
  }
  return s;
}

std::string entry_latency(const Store& store, size_t i) {
  const StoreEntry& e = store.entry(i);
  if (e.role == MessageRole::Request || e.peer == kNoEntry) return {};
  return format_duration(e.latency_ns);
}

std::string finding_markers(const Store& store, size_t i) {
  std::string s;
  const auto findings = store.findings(i);
  for (size_t k = 0; k < findings.size(); ++k) {
    bool seen = false;  // one marker per kind, even when a kind fires twice
    for (size_t j = 0; j < k; ++j) seen |= findings[j].code == findings[k].code;
    if (seen) continue;
    if (!s.empty()) s += ' ';
    s += '!';
    s += finding_info(findings[k].code).id;
  }
  return s;
}

std::string record_flag_tags(const Store& store, size_t i) {
  // Flags that change what the line means; fds-truncated / incomplete already show as findings.
  const uint16_t flags = store.entry(i).record_flags;
  std::string s;
  if (flags & kRecordNotRelayed) s += "(not relayed)";
  if (flags & kRecordInjected) s += s.empty() ? "(injected)" : " (injected)";
  // A copy a rotated file or flight-recorder window starts with (record -C, --on-finding).
  if (flags & kRecordRepeated) s += s.empty() ? "(repeated)" : " (repeated)";
  return s;
}

// Records the recorder makes itself (ring samples, notifications) travel on no channel.
bool is_recorder_sample(const StoreEntry& e) {
  return e.kind == RecordKind::RingState || e.kind == RecordKind::Notify;
}

std::string format_entry_body(const Store& store, size_t i) {
  const StoreEntry& e = store.entry(i);
  std::string line = is_recorder_sample(e)
                         ? fmt::format("s{} {}", e.session, entry_title(store, i))
                         : fmt::format("s{} {} {} {}", e.session, direction_arrow(e.direction),
                                       channel_short(e.channel), entry_title(store, i));
  auto append = [&line](const std::string& part) {
    if (part.empty()) return;
    line += ' ';
    line += part;
  };
  append(record_flag_tags(store, i));
  append(entry_summary(store, i));
  const std::string latency = entry_latency(store, i);
  if (!latency.empty()) append("[" + latency + "]");
  append(finding_markers(store, i));
  return line;
}

std::string format_entry_line(const Store& store, size_t i, const LineOptions& options) {
  return fmt::format("{:>11} {:<7} {}", entry_time(store, i, options), record_number(i),
                     format_entry_body(store, i));
}

namespace {

// -V for a RingState record: the sampled words, what is in flight, the oldest buffer's detail and
// the faults, one per line (docs/ring-state-format.md).
std::string ring_state_details(const Store& store, size_t i) {
  std::string error;
  const auto s = store.ring_snapshot(i, &error);
  if (!s) return "    ring state: undecodable: " + error + "\n";
  std::string out =
      fmt::format("    queue = {}\n    ring = {}, size {}{}\n", s->queue, ring_type_name(s->type),
                  s->size, s->event_idx ? ", event idx" : "");
  if (s->indices_ok) {
    out += fmt::format("    avail.idx = {}, avail.flags = {:#x}\n", s->avail_idx, s->avail_flags);
    out += fmt::format("    used.idx = {}, used.flags = {:#x}\n", s->used_idx, s->used_flags);
    if (s->event_idx)
      out += fmt::format("    used_event = {}, avail_event = {}\n", s->used_event, s->avail_event);
  } else {
    out += "    indexes not readable (see faults)\n";
  }
  if (s->vring_base) {
    out += fmt::format("    vring_base = {}", *s->vring_base);
    if (s->pending) out += fmt::format(" ({} not yet fetched by the back-end)", *s->pending);
    out += '\n';
  }
  out += fmt::format("    in flight = {}", s->inflight);
  if (!s->heads.empty()) {
    out += s->heads_approximate ? ", heads (approximate)" : ", heads";
    for (uint16_t h : s->heads) out += fmt::format(" {}", h);
  }
  out += '\n';
  if (s->oldest) out += "    oldest = " + escape_text(describe_buffer(*s->oldest)) + '\n';
  for (size_t k = 0; k < s->faults.size(); ++k)
    out +=
        fmt::format("    fault[{}] = {}\n", k, escape_text(fault_finding(*s, s->faults[k]).detail));
  return out;
}

}  // namespace

std::string format_entry_details(const Store& store, size_t i) {
  const StoreEntry& e = store.entry(i);
  std::string out;
  if (e.kind == RecordKind::Message) {
    const DecodedMessage msg = store.decoded(i);
    for (const Field& f : describe_fields(msg, store.bytes(i), store.fds(i), store.context(i)))
      out += fmt::format("    {:{}}{} = {}\n", "", 2 * f.depth, escape_text(f.path),
                         escape_text(f.text));
  }
  if (e.kind == RecordKind::RingState) out += ring_state_details(store, i);
  for (const Finding& f : store.findings(i))
    out += fmt::format("    ! {} ({}): {}\n", finding_info(f.code).id, severity_name(f.severity()),
                       escape_text(f.detail));
  if (e.peer != kNoEntry) {
    if (e.role == MessageRole::Request)
      out += fmt::format("    answered by {}\n", record_number(e.peer));
    else
      out += fmt::format("    answers {} after {}\n", record_number(e.peer),
                         format_duration(e.latency_ns));
  }
  // Connect/Disconnect/Error notes are already readable on the line itself.
  if (e.kind != RecordKind::Connect && e.kind != RecordKind::Disconnect &&
      e.kind != RecordKind::Error)
    out += hex_dump(store.bytes(i));
  return out;
}

}  // namespace vhs
