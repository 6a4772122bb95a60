// JSON objects for records, session summaries and ring state (docs/json.md).
#include "app/common/json_format.hpp"

#include <fmt/format.h>

#include "app/common/check_session.hpp"
#include "app/common/dump_format.hpp"
#include "app/common/summary_format.hpp"
#include "app/common/text_escape.hpp"
#include "app/common/view_fds.hpp"
#include "decoders/vhost_user/field_format.hpp"
#include "decoders/vhost_user/field_paths.hpp"
#include "decoders/virtio/notify_record.hpp"
#include "decoders/virtio/ring_snapshot.hpp"

namespace vhs {
namespace {

std::string_view kind_key(RecordKind k) {
  switch (k) {
    case RecordKind::Message: return "message";
    case RecordKind::Connect: return "connect";
    case RecordKind::Disconnect: return "disconnect";
    case RecordKind::Error: return "error";
    case RecordKind::RingState: return "ring_state";
    case RecordKind::Notify: return "notify";
  }
  return "unknown";
}

std::string_view direction_key(Direction d) {
  return d == Direction::ToBackend ? "to_backend" : "to_frontend";
}

std::string_view channel_key(Channel c) { return c == Channel::Frontend ? "frontend" : "backend"; }

std::string_view role_key(MessageRole r) {
  switch (r) {
    case MessageRole::Request: return "request";
    case MessageRole::Reply: return "reply";
    case MessageRole::Ack: return "ack";
  }
  return "request";
}

std::string_view expects_key(ReplyExpectation e) {
  switch (e) {
    case ReplyExpectation::None: return "none";
    case ReplyExpectation::Reply: return "reply";
    case ReplyExpectation::Ack: return "ack";
    case ReplyExpectation::OptionalAck: return "optional_ack";
  }
  return "none";
}

Json record_flag_names(uint16_t flags) {
  Json names = Json::array();
  if (flags & kRecordFdsTruncated) names.push_back("fds_truncated");
  if (flags & kRecordIncomplete) names.push_back("incomplete");
  if (flags & kRecordNotRelayed) names.push_back("not_relayed");
  if (flags & kRecordInjected) names.push_back("injected");
  if (flags & kRecordClosedByProxy) names.push_back("closed_by_proxy");
  if (flags & kRecordRepeated) names.push_back("repeated");
  if (flags & kRecordWindowEnd) names.push_back("window_end");
  return names;
}

std::string hex_string(std::span<const uint8_t> bytes) {
  std::string s;
  s.reserve(bytes.size() * 2);
  for (uint8_t b : bytes) s += fmt::format("{:02x}", b);
  return s;
}

// Names of a Flags value: the '|'-separated list the decoder produced.
Json split_names(std::string_view names) {
  Json out = Json::array();
  while (!names.empty()) {
    const size_t bar = names.find('|');
    const std::string_view one = names.substr(0, bar);
    if (!one.empty()) out.push_back(std::string(one));
    if (bar == std::string_view::npos) break;
    names.remove_prefix(bar + 1);
  }
  return out;
}

Json field_json(const Field& f) {
  Json j;
  j["path"] = f.path;
  j["field"] = public_field_name(f.path);
  j["type"] = std::string(value_kind_name(f.value.kind));
  const FieldValue& v = f.value;
  switch (v.kind) {
    case ValueKind::None: j["value"] = nullptr; break;
    case ValueKind::Unsigned:
    case ValueKind::Address: j["value"] = v.number; break;
    case ValueKind::Signed: j["value"] = v.as_signed(); break;
    case ValueKind::Bool: j["value"] = v.number != 0; break;
    case ValueKind::Enum:
      j["value"] = v.number;
      j["name"] = v.name;
      break;
    case ValueKind::Flags:
      j["value"] = v.number;
      j["names"] = split_names(v.name);
      break;
    case ValueKind::Bytes: j["value"] = hex_string(v.bytes); break;
    case ValueKind::String: j["value"] = v.name; break;
  }
  // A group line says something only through its rendering.
  if (v.kind == ValueKind::None) j["text"] = f.text;
  return j;
}

Json optional_number(const std::optional<uint32_t>& v) { return v ? Json(*v) : Json(nullptr); }
Json optional_number(const std::optional<uint64_t>& v) { return v ? Json(*v) : Json(nullptr); }
Json entry_ref(MessageRef ref) {
  return ref == kNoMessage ? Json(nullptr) : Json(record_number_value(ref));
}

Json notify_json(const NotifyRecord& n) {
  Json j;
  j["queue"] = n.queue;
  j["source"] = std::string(notify_source_name(n.source));
  j["event"] = std::string(notify_event_name(n.event));
  j["count"] = n.count;
  return j;
}

Json buffer_json(const BufferSummary& b) {
  Json j;
  j["head"] = b.head;
  j["descriptors"] = b.descs;
  j["readable_bytes"] = b.readable_bytes;
  j["writable_bytes"] = b.writable_bytes;
  j["text"] = describe_buffer(b);
  return j;
}

Json snapshot_json(const RingSnapshot& s) {
  Json j;
  j["queue"] = s.queue;
  j["ring_type"] = std::string(ring_type_name(s.type));
  j["size"] = s.size;
  j["indices_ok"] = s.indices_ok;
  j["avail_idx"] = s.avail_idx;
  j["used_idx"] = s.used_idx;
  j["avail_flags"] = s.avail_flags;
  j["used_flags"] = s.used_flags;
  j["event_idx"] = s.event_idx;
  j["vring_base"] = optional_number(s.vring_base);
  j["in_flight"] = s.inflight;
  j["pending"] = optional_number(s.pending);
  j["heads"] = s.heads;
  j["heads_approximate"] = s.heads_approximate;
  j["oldest"] = s.oldest ? buffer_json(*s.oldest) : Json(nullptr);
  j["faults"] = s.faults.size();
  j["text"] = describe_ring_snapshot(s);
  return j;
}

double seconds_since(uint64_t ts, uint64_t base) {
  return ts >= base ? static_cast<double>(ts - base) / 1e9 : 0.0;
}

Json feature_word_json(const FeatureWord& w, const std::vector<FeatureRow>& rows) {
  Json j;
  j["offered"] = optional_number(w.offered);
  j["acked"] = optional_number(w.acked);
  j["offered_by"] = entry_ref(w.offered_by);
  j["acked_by"] = entry_ref(w.acked_by);
  Json bits = Json::array();
  for (const FeatureRow& r : rows) {
    Json b;
    b["bit"] = r.bit;
    b["name"] = r.name.empty() ? Json(nullptr) : Json(std::string(r.name));
    b["offered"] = r.offered;
    b["acked"] = r.acked;
    bits.push_back(std::move(b));
  }
  j["bits"] = std::move(bits);
  return j;
}

Json notifier_json(const NotifierSlot& s) {
  switch (s.state) {
    case NotifierSlot::State::Unset: return nullptr;
    case NotifierSlot::State::NoFd: return "nofd";
    case NotifierSlot::State::Fd: return fd_json(s.fd);
  }
  return nullptr;
}

Json episode_json(const Store& store, const RingEpisode& e, uint64_t now_ns) {
  const uint64_t base = store.first_timestamp();
  Json j;
  j["queue"] = e.queue;
  j["finding"] = finding_json(e.finding);
  j["since"] = seconds_since(e.since_ns, base);
  j["raised"] = seconds_since(e.raised_ns, base);
  j["ended"] = e.ended_ns ? Json(seconds_since(*e.ended_ns, base)) : Json(nullptr);
  j["ended_how"] = e.ended_ns ? Json(e.ended_how) : Json(nullptr);
  j["duration_ns"] = episode_duration(e, now_ns);
  j["record"] = e.entry == kNoRingEntry ? Json(nullptr) : Json(record_number_value(e.entry));
  return j;
}

uint64_t ring_now(const StoreSession& s) { return s.rings.now_ns(); }

}  // namespace

uint64_t record_number_value(size_t entry_index) { return entry_index + 1; }

std::string json_line(const Json& value) {
  // `replace` turns invalid UTF-8 into U+FFFD instead of throwing (type_error 316), and nlohmann
  // escapes C0 controls itself. DEL, C1 controls, separators and bidi controls it writes as they
  // are; they can only occur inside strings, where "\uNNNN" is the same JSON value, so they are
  // rewritten that way: a JSON line on a terminal is as harmless as text output.
  const std::string raw = value.dump(-1, ' ', false, Json::error_handler_t::replace);
  std::string out;
  out.reserve(raw.size());
  const std::string_view rest(raw);
  for (size_t i = 0; i < rest.size();) {
    char32_t cp = 0;
    const size_t n = utf8_sequence(rest.substr(i), cp);
    if (n == 0) {  // cannot happen after `replace`; kept byte for byte all the same
      out += rest[i++];
      continue;
    }
    if (is_unsafe_code_point(cp))
      out += fmt::format("\\u{:04x}", static_cast<unsigned>(cp));
    else
      out.append(rest.substr(i, n));
    i += n;
  }
  return out;
}

Json fd_json(const FdInfo& fd) {
  Json j;
  j["kind"] = std::string(fd_kind_name(fd.kind));
  j["inode"] = fd.inode;
  j["size"] = fd.size;
  j["name"] = fd.name;
  return j;
}

Json finding_json(const Finding& f) {
  Json j;
  j["id"] = std::string(finding_info(f.code).id);
  j["severity"] = std::string(severity_name(f.severity()));
  j["detail"] = f.detail;
  return j;
}

Json entry_json(const Store& store, size_t i) {
  const StoreEntry& e = store.entry(i);
  Json j;
  j["schema"] = std::string(kJsonSchema);
  j["type"] = "record";
  j["number"] = record_number_value(i);
  j["time"] = seconds_since(e.timestamp_ns, store.first_timestamp());
  j["timestamp_ns"] = e.timestamp_ns;
  j["session"] = e.session;
  j["kind"] = std::string(kind_key(e.kind));
  // Samples and notifications are the recorder's own observations: they travel on no channel.
  const bool on_wire = e.kind != RecordKind::RingState && e.kind != RecordKind::Notify;
  j["direction"] = on_wire ? Json(std::string(direction_key(e.direction))) : Json(nullptr);
  j["channel"] = on_wire ? Json(std::string(channel_key(e.channel))) : Json(nullptr);
  j["title"] = entry_title(store, i);
  if (e.is_message() && e.header_complete) {
    Json request;
    request["number"] = e.header.request;
    request["name"] = e.info ? Json(std::string(e.info->name)) : Json(nullptr);
    j["request"] = std::move(request);
    j["role"] = std::string(role_key(e.role));
    j["flags"] = e.header.flags;
  } else {
    j["request"] = nullptr;
    j["role"] = nullptr;
    j["flags"] = nullptr;
  }
  j["record_flags"] = record_flag_names(e.record_flags);
  j["size"] = e.bytes_size;
  j["summary"] = entry_summary(store, i);

  Json fields = Json::array();
  std::vector<std::string> roles;
  if (e.is_message()) {
    const DecodedMessage msg = store.decoded(i);
    for (const Field& f : describe_fields(msg, store.bytes(i), store.fds(i), store.context(i)))
      fields.push_back(field_json(f));
    roles = view::fd_roles(msg, store.fds(i).size());
  }
  j["fields"] = std::move(fields);
  if (e.kind == RecordKind::Notify) {
    if (auto n = decode_notify(store.bytes(i))) j["notify"] = notify_json(*n);
  }
  if (e.kind == RecordKind::RingState) {
    if (auto s = store.ring_snapshot(i)) j["ring"] = snapshot_json(*s);
  }
  if (e.kind == RecordKind::Connect || e.kind == RecordKind::Disconnect ||
      e.kind == RecordKind::Error)
    j["note"] = std::string(store.text(i));

  Json fds = Json::array();
  const auto record_fds = store.fds(i);
  for (size_t k = 0; k < record_fds.size(); ++k) {
    Json fd = fd_json(record_fds[k]);
    fd["role"] = k < roles.size() ? Json(roles[k]) : Json(nullptr);
    fds.push_back(std::move(fd));
  }
  j["fds"] = std::move(fds);

  if (e.is_message() && e.role == MessageRole::Request) {
    j["expects"] = std::string(expects_key(e.expects));
    j["answered_by"] = e.peer == kNoEntry ? Json(nullptr) : Json(record_number_value(e.peer));
    j["answers"] = nullptr;
    j["latency_ns"] = nullptr;
  } else if (e.is_message()) {
    j["expects"] = nullptr;
    j["answered_by"] = nullptr;
    j["answers"] = e.peer == kNoEntry ? Json(nullptr) : Json(record_number_value(e.peer));
    j["latency_ns"] = e.peer == kNoEntry ? Json(nullptr) : Json(e.latency_ns);
  } else {
    j["expects"] = nullptr;
    j["answered_by"] = nullptr;
    j["answers"] = nullptr;
    j["latency_ns"] = nullptr;
  }
  Json findings = Json::array();
  for (const Finding& f : store.findings(i)) findings.push_back(finding_json(f));
  j["findings"] = std::move(findings);
  return j;
}

Json session_summary_json(const Store& store, const StoreSession& session) {
  const SessionState& st = session.state();
  const uint64_t base = store.first_timestamp();
  const uint64_t first = store.entry(session.first_entry).timestamp_ns;
  const uint64_t last = store.entry(session.last_entry).timestamp_ns;
  Json j;
  j["id"] = session.id;
  j["records"] = session.entries;
  j["first_record"] = record_number_value(session.first_entry);
  j["last_record"] = record_number_value(session.last_entry);
  j["start"] = seconds_since(first, base);
  j["end"] = seconds_since(last, base);
  j["duration_ns"] = last - first;
  if (session.connect_entry != kNoEntry) {
    Json c;
    c["record"] = record_number_value(session.connect_entry);
    c["note"] = std::string(store.text(session.connect_entry));
    j["connected"] = std::move(c);
  } else {
    j["connected"] = nullptr;
  }
  if (session.ended()) {
    const StoreEntry& d = store.entry(session.disconnect_entry);
    Json c;
    c["record"] = record_number_value(session.disconnect_entry);
    c["closed_by"] = (d.record_flags & kRecordClosedByProxy) ? "recorder"
                     : d.direction == Direction::ToBackend   ? "front-end"
                                                             : "back-end";
    c["note"] = std::string(store.text(session.disconnect_entry));
    j["ended"] = std::move(c);
  } else {
    j["ended"] = nullptr;
  }
  Json device;
  device["kind"] = std::string(device_kind_name(st.device));
  device["source"] = st.device_from_user                ? "given"
                     : st.device == DeviceKind::Unknown ? "unknown"
                                                        : "inferred";
  j["device"] = std::move(device);
  j["features"] = feature_word_json(st.features, feature_rows(st.features, st.device));
  j["protocol_features"] =
      feature_word_json(st.protocol_features, protocol_feature_rows(st.protocol_features));

  Json regions = Json::array();
  for (const MemRegionState& r : st.regions) {
    Json m;
    m["gpa"] = r.region.guest_phys_addr;
    m["size"] = r.region.memory_size;
    m["uva"] = r.region.userspace_addr;
    m["mmap_offset"] = r.region.mmap_offset;
    m["added_by"] = entry_ref(r.added_by);
    m["fd"] = r.has_fd ? fd_json(r.fd) : Json(nullptr);
    regions.push_back(std::move(m));
  }
  j["memory"] = std::move(regions);

  Json vrings = Json::array();
  for (const VringState& v : st.vrings) {
    Json q;
    q["index"] = v.index;
    q["num"] = optional_number(v.num);
    q["base"] = optional_number(v.base);
    q["last_base"] = optional_number(v.last_base);
    q["started"] = v.started;
    q["enabled"] = v.enabled;
    q["kick"] = notifier_json(v.kick);
    q["call"] = notifier_json(v.call);
    q["err"] = notifier_json(v.err);
    if (v.addr) {
      Json a;
      a["desc"] = v.addr->desc_user_addr;
      a["used"] = v.addr->used_user_addr;
      a["avail"] = v.addr->avail_user_addr;
      a["log"] = v.addr->log_guest_addr;
      a["flags"] = v.addr->flags;
      q["addresses"] = std::move(a);
    } else {
      q["addresses"] = nullptr;
    }
    Json counts = Json::object();
    for (const RequestCount& c : v.counts)
      if (c.info) counts[std::string(c.info->name)] = c.count;
    q["requests"] = std::move(counts);
    vrings.push_back(std::move(q));
  }
  j["vrings"] = std::move(vrings);

  const BackendChannelState& be = st.backend_channel;
  Json channel;
  channel["established"] = be.established;
  channel["set_by"] = entry_ref(be.set_by);
  channel["fd"] = be.established ? fd_json(be.fd) : Json(nullptr);
  channel["messages"] = be.messages;
  j["backend_channel"] = std::move(channel);

  Json rings = session_rings_json(store, session, /*end_only=*/true);
  rings.erase("id");
  rings.erase("changes");
  j["rings"] = std::move(rings);

  Json counts;
  uint64_t by_severity[3] = {0, 0, 0};
  Json groups = Json::array();
  for (const FindingGroup& g : finding_groups(store, session)) {
    by_severity[static_cast<size_t>(g.severity)] += g.entries.size();
    Json o;
    o["id"] = std::string(finding_info(g.code).id);
    o["severity"] = std::string(severity_name(g.severity));
    o["count"] = g.entries.size();
    Json records = Json::array();
    for (uint32_t e : g.entries) records.push_back(record_number_value(e));
    o["records"] = std::move(records);
    o["first_detail"] = g.first_detail;
    // Which conformance rule the finding is evidence of, or why it is a diagnostic.
    Json rule_ids = Json::array();
    for (RuleId r : group_rules(store, g)) rule_ids.push_back(std::string(rule_info(r).id));
    o["diagnostic"] = rule_ids.empty();
    o["rules"] = std::move(rule_ids);
    o["diagnostic_reason"] = std::string(finding_rule(g.code).why);
    groups.push_back(std::move(o));
  }
  counts["error"] = by_severity[static_cast<size_t>(Severity::Error)];
  counts["warning"] = by_severity[static_cast<size_t>(Severity::Warning)];
  counts["info"] = by_severity[static_cast<size_t>(Severity::Info)];
  Json findings;
  findings["counts"] = std::move(counts);
  findings["groups"] = std::move(groups);
  j["findings"] = std::move(findings);

  Json waiting = Json::array();
  for (const WaitingRequest& w : waiting_requests(store, session)) {
    Json o;
    o["record"] = record_number_value(w.entry);
    o["request"] = w.label;
    o["waited_ns"] = w.waited_ns;
    o["disconnected"] = w.disconnected;
    waiting.push_back(std::move(o));
  }
  j["waiting"] = std::move(waiting);

  // The VIRTIO device status over the session and the conformance violations (letter of the
  // spec; `vhostscope check` applies profiles and blame), as `summary` prints them.
  const SessionCheck check = check_store_session(store, session);
  Json lifecycle = Json::array();
  for (const LifecycleStep& step : check.lifecycle) {
    Json o;
    o["record"] = record_number_value(step.ref);
    o["timestamp_ns"] = step.timestamp_ns;
    o["status"] = step.status;
    o["names"] = step.status == 0 ? std::string("reset") : describe_status(step.status);
    o["inferred"] = step.inferred;
    lifecycle.push_back(std::move(o));
  }
  j["device_status"] = std::move(lifecycle);
  Json conformance;
  conformance["profile"] = "spec";
  Json violations = Json::array();
  for (const Violation& v : check.violations) violations.push_back(violation_json(v));
  conformance["violations"] = std::move(violations);
  j["conformance"] = std::move(conformance);
  return j;
}

Json violation_json(const Violation& v) {
  const Rule& rule = rule_info(v.rule);
  Json j;
  j["rule"] = std::string(rule.id);
  j["severity"] = std::string(severity_name(rule.severity));
  j["blamed"] = std::string(side_name(v.blamed));
  j["record"] = record_number_value(v.message);
  Json related = Json::array();
  for (MessageRef r : v.related)
    if (r != kNoMessage) related.push_back(record_number_value(r));
  j["related"] = std::move(related);
  j["timestamp_ns"] = v.timestamp_ns;
  j["expected"] = v.expected;
  j["observed"] = v.observed;
  j["statement"] = std::string(rule.statement);
  j["section"] = std::string(rule.section);
  j["virtio_section"] = std::string(rule.virtio);
  return j;
}

Json session_rings_json(const Store& store, const StoreSession& session, bool end_only) {
  const uint64_t base = store.first_timestamp();
  Json j;
  j["id"] = session.id;
  if (!end_only) {
    Json changes = Json::array();
    for (uint32_t i = session.first_entry; i <= session.last_entry && i < store.size(); ++i) {
      if (store.kind(i) != RecordKind::RingState || &store.session_of(i) != &session) continue;
      Json c;
      c["record"] = record_number_value(i);
      c["time"] = seconds_since(store.timestamp(i), base);
      auto snap = store.ring_snapshot(i);
      c["state"] = snap ? snapshot_json(*snap) : Json(nullptr);
      changes.push_back(std::move(c));
    }
    j["changes"] = std::move(changes);
  }
  Json queues = Json::array();
  for (const auto& [queue, q] : session.rings.queues()) {
    Json o;
    o["queue"] = queue;
    o["samples"] = q.samples;
    o["time"] = seconds_since(q.last_ns, base);
    o["record"] = q.entry == kNoRingEntry ? Json(nullptr) : Json(record_number_value(q.entry));
    o["state"] = snapshot_json(q.last);
    queues.push_back(std::move(o));
  }
  j["queues"] = std::move(queues);
  Json episodes = Json::array();
  for (const RingEpisode& e : session.rings.episodes())
    episodes.push_back(episode_json(store, e, ring_now(session)));
  j["episodes"] = std::move(episodes);
  return j;
}

}  // namespace vhs
