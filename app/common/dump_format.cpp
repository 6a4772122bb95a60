// What `dump` prints for one store entry: the one-line form, its parts and the -V detail block.
#include "app/common/dump_format.hpp"

#include <fmt/format.h>

#include "app/common/text_format.hpp"
#include "decoders/vhost_user/field_format.hpp"
#include "decoders/virtio/notify_record.hpp"

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
      // The direction says who closed: a "to back-end" disconnect is the front-end hanging up.
      return e.direction == Direction::ToBackend ? "disconnect (front-end closed)"
                                                 : "disconnect (back-end closed)";
    default: return std::string(record_kind_name(e.kind));
  }
  if (!e.header_complete) return fmt::format("(incomplete header, {} bytes)", e.bytes_size);
  std::string title =
      e.info ? std::string(e.info->name) : request_text(e.channel, e.header.request);
  if (e.header.is_reply()) title += e.role == MessageRole::Ack ? " ack" : " reply";
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
    if (e.kind == RecordKind::RingState) return fmt::format("{} bytes", e.bytes_size);
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
  return s;
}

std::string format_entry_body(const Store& store, size_t i) {
  const StoreEntry& e = store.entry(i);
  std::string line = fmt::format("s{} {} {} {}", e.session, direction_arrow(e.direction),
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

std::string format_entry_details(const Store& store, size_t i) {
  const StoreEntry& e = store.entry(i);
  std::string out;
  if (e.kind == RecordKind::Message) {
    const DecodedMessage msg = store.decoded(i);
    for (const Field& f : describe_fields(msg, store.bytes(i), store.fds(i), store.context(i)))
      out += fmt::format("    {:{}}{} = {}\n", "", 2 * f.depth, escape_text(f.path),
                         escape_text(f.text));
  }
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
