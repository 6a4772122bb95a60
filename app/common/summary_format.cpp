// The per-session summary rows and their text rendering for `vhostscope summary`.
#include "app/common/summary_format.hpp"

#include <algorithm>
#include <array>
#include <map>

#include <fmt/format.h>

#include "app/common/check_session.hpp"
#include "app/common/text_format.hpp"
#include "decoders/conformance/checker.hpp"
#include "decoders/vhost_user/field_format.hpp"
#include "decoders/virtio/notify_record.hpp"

namespace vhs {
namespace {

template <typename NameOf>
std::vector<FeatureRow> rows_of(const FeatureWord& w, NameOf name_of) {
  std::vector<FeatureRow> rows;
  const uint64_t offered = w.offered.value_or(0);
  const uint64_t acked = w.acked.value_or(0);
  for (unsigned bit = 0; bit < 64; ++bit) {
    const bool o = (offered >> bit) & 1u;
    const bool a = (acked >> bit) & 1u;
    if (o || a) rows.push_back({bit, name_of(bit), o, a});
  }
  return rows;
}

size_t session_index_of(const Store& store, const StoreSession& session) {
  return static_cast<size_t>(&session - store.sessions().data());
}

std::string yes_no(bool known, bool v) { return !known ? "?" : v ? "yes" : "-"; }

std::string opt_u32(const std::optional<uint32_t>& v) { return v ? fmt::format("{}", *v) : "-"; }

std::string notifier(const NotifierSlot& s) {
  switch (s.state) {
    case NotifierSlot::State::Unset: return "-";
    case NotifierSlot::State::NoFd: return "NOFD";
    case NotifierSlot::State::Fd: return format_fd(s.fd);
  }
  return "-";
}

std::string pending_label(const PendingRequest& p) {
  const std::string name = p.info ? std::string(p.info->name) : request_text(p.channel, p.request);
  return p.vring ? fmt::format("{} (index {})", name, *p.vring) : name;
}

void features_block(std::string& out, std::string_view title, const FeatureWord& w,
                    const std::vector<FeatureRow>& rows, bool protocol, DeviceKind device) {
  auto word = [&](const std::optional<uint64_t>& v) {
    if (!v) return std::string("not seen");
    return protocol ? protocol_features_text(*v) : features_text(*v, device);
  };
  out += fmt::format("  {}\n    offered: {}\n    acked:   {}\n", title, word(w.offered),
                     word(w.acked));
  if (rows.empty()) return;
  out += fmt::format("    {:>3}  {:<28} {:<8} {}\n", "bit", "name", "offered", "acked");
  for (const FeatureRow& r : rows)
    out +=
        fmt::format("    {:>3}  {:<28} {:<8} {}\n", r.bit, r.name.empty() ? "-" : r.name,
                    yes_no(w.offered.has_value(), r.offered), yes_no(w.acked.has_value(), r.acked));
}

void memory_block(std::string& out, const SessionState& st) {
  out += fmt::format("  Memory map: {} region{}\n", st.regions.size(),
                     st.regions.size() == 1 ? "" : "s");
  if (st.regions.empty()) return;
  out += fmt::format("    {:<18} {:<9} {:<18} {:<12} {:<8} {}\n", "GPA", "size", "UVA",
                     "mmap_offset", "added", "fd");
  for (const MemRegionState& r : st.regions)
    out += fmt::format(
        "    {:<18} {:<9} {:<18} {:<12} {:<8} {}\n", fmt::format("{:#x}", r.region.guest_phys_addr),
        compact_size(r.region.memory_size), fmt::format("{:#x}", r.region.userspace_addr),
        fmt::format("{:#x}", r.region.mmap_offset),
        r.added_by == kNoMessage ? "-" : record_number(r.added_by),
        r.has_fd ? format_fd_long(r.fd) : "none");
}

void vring_block(std::string& out, const SessionState& st) {
  out += fmt::format("  Vrings: {}\n", st.vrings.size());
  if (st.vrings.empty()) return;
  out += fmt::format("    {:>5} {:>6} {:>6} {:>9} {:<8} {:<8} {:<12} {:<12} {:<12} {:>5}  {}\n",
                     "index", "num", "base", "last_base", "started", "enabled", "kick", "call",
                     "err", "msgs", "desc/used/avail");
  for (const VringState& v : st.vrings) {
    uint32_t msgs = 0;
    for (const auto& c : v.counts) msgs += c.count;
    const std::string addrs =
        v.addr ? fmt::format("{:#x}/{:#x}/{:#x}{}", v.addr->desc_user_addr, v.addr->used_user_addr,
                             v.addr->avail_user_addr, (v.addr->flags & 1) ? " LOG" : "")
               : "-";
    out += fmt::format("    {:>5} {:>6} {:>6} {:>9} {:<8} {:<8} {:<12} {:<12} {:<12} {:>5}  {}\n",
                       v.index, opt_u32(v.num), opt_u32(v.base), opt_u32(v.last_base),
                       v.started ? "yes" : "no", v.enabled ? "yes" : "no", notifier(v.kick),
                       notifier(v.call), notifier(v.err), msgs, addrs);
  }
}

// Interposed notifications (record --interpose-notify) per queue: counter sums per source, how
// many were held, and how many records carried them. Nothing when the session has none.
void notify_block(std::string& out, const StoreSession& session) {
  const auto& queues = session.notify_totals;
  const uint64_t undecodable = session.notify_undecodable;
  if (queues.empty() && undecodable == 0) return;
  out += fmt::format("  Notifications (interposed): {} queue{}\n", queues.size(),
                     queues.size() == 1 ? "" : "s");
  out += fmt::format("    {:>5} {:>10} {:>10} {:>6} {:>8} {:>8}\n", "index", "kicks", "calls",
                     "errs", "held", "records");
  for (const auto& [queue, t] : queues)
    out += fmt::format("    {:>5} {:>10} {:>10} {:>6} {:>8} {:>8}\n", queue, t.relayed[0],
                       t.relayed[1], t.relayed[2], t.held, t.records);
  if (undecodable > 0)
    out += fmt::format("    {} notify record(s) could not be decoded\n", undecodable);
  out += '\n';
}

void state_block(std::string& out, const SessionState& st) {
  const auto& be = st.backend_channel;
  if (be.established)
    out += fmt::format("  Back-end channel: established by {} ({}), {} message{}\n",
                       record_number(be.set_by), format_fd_long(be.fd), be.messages,
                       be.messages == 1 ? "" : "s");
  else if (be.messages)
    out += fmt::format("  Back-end channel: {} messages without SET_BACKEND_REQ_FD in view\n",
                       be.messages);
  else
    out += "  Back-end channel: not established\n";
  out += fmt::format("  Owner: {}\n", st.owner_set ? "set" : "not set");
  if (st.status_set || st.status_read)
    out += fmt::format("  Device status: set {}, read {}\n",
                       st.status_set ? status_text(*st.status_set) : "-",
                       st.status_read ? status_text(*st.status_read) : "-");
  if (st.queue_num) out += fmt::format("  Queue count (GET_QUEUE_NUM): {}\n", *st.queue_num);
  if (st.max_mem_slots)
    out += fmt::format("  Memory slots (GET_MAX_MEM_SLOTS): {}\n", *st.max_mem_slots);
  if (st.config)
    out += fmt::format("  Config: last read {} bytes at offset {}; {} write{}\n", st.config->size,
                       st.config->offset, st.config_writes, st.config_writes == 1 ? "" : "s");
  else if (st.config_writes)
    out +=
        fmt::format("  Config: {} write{}\n", st.config_writes, st.config_writes == 1 ? "" : "s");
  const auto& in = st.inflight;
  if (in.requested || in.received || in.set) {
    const InflightValue& v = in.set ? *in.set : in.received ? *in.received : *in.requested;
    out += fmt::format("  Inflight: {} queue{} x {}, mmap_size {}{}\n", v.num_queues,
                       v.num_queues == 1 ? "" : "s", v.queue_size, compact_size(v.mmap_size),
                       in.has_fd ? ", fd " + format_fd_long(in.fd) : std::string());
  }
  if (st.log.log)
    out += fmt::format("  Dirty log: {} at offset {:#x}{}\n", compact_size(st.log.log->mmap_size),
                       st.log.log->mmap_offset,
                       st.log.has_fd ? ", fd " + format_fd_long(st.log.fd) : "");
  if (st.postcopy_listening) out += "  Postcopy: listening\n";
}

// Lists at most this many record numbers per finding kind; the rest is counted.
constexpr size_t kMaxListed = 12;

// Which conformance rules a group's findings are evidence of (docs/rules.md), judged per message
// as `vhostscope check` does; none: the group is a diagnostic.
std::string rules_line(const Store& store, const FindingGroup& g) {
  const std::vector<RuleId> rules = group_rules(store, g);
  if (rules.empty())
    return fmt::format("diagnostic, not a rule: {}", finding_rule(g.code).why.empty()
                                                         ? "judged with the whole session"
                                                         : finding_rule(g.code).why);
  std::string text;
  for (RuleId id : rules) {
    const Rule& r = rule_info(id);
    if (!text.empty()) text += "; ";
    text += fmt::format("{} (spec \"{}\"{})", r.id, r.section,
                        r.virtio.empty() ? "" : fmt::format(", VIRTIO \"{}\"", r.virtio));
  }
  return "rule: " + text;
}

void findings_block(std::string& out, const Store& store, const std::vector<FindingGroup>& groups) {
  size_t counts[3] = {0, 0, 0};
  for (const auto& g : groups) counts[static_cast<size_t>(g.severity)] += g.entries.size();
  out += fmt::format("  Findings: {} error{}, {} warning{}, {} info\n", counts[2],
                     counts[2] == 1 ? "" : "s", counts[1], counts[1] == 1 ? "" : "s", counts[0]);
  for (const auto& g : groups) {
    std::string where;
    for (size_t k = 0; k < g.entries.size() && k < kMaxListed; ++k) {
      if (k) where += ", ";
      where += record_number(g.entries[k]);
    }
    if (g.entries.size() > kMaxListed)
      where += fmt::format(" (+{} more)", g.entries.size() - kMaxListed);
    out += fmt::format("    {:<7} {} x{}: {}\n", severity_name(g.severity), finding_info(g.code).id,
                       g.entries.size(), where);
    out += fmt::format("            first: {}\n", escape_text(g.first_detail));
    out += fmt::format("            {}\n", rules_line(store, g));
  }
}

// The session's conformance violations (`vhostscope check`, letter of the spec), one line each.
void conformance_block(std::string& out, const Store& store, const StoreSession& session) {
  const SessionCheck check = check_store_session(store, session);
  const auto& violations = check.violations;
  // The VIRTIO device status as a timeline: the steps SET_STATUS set, or the ones the transport
  // implies ("~": inferred, STATUS not negotiated).
  if (!check.lifecycle.empty()) {
    std::string steps;
    for (size_t k = 0; k < check.lifecycle.size() && k < kMaxListed; ++k) {
      const LifecycleStep& step = check.lifecycle[k];
      if (k) steps += " → ";
      steps += fmt::format("{} {}{}", record_number(step.ref), step.inferred ? "~" : "",
                           step.status == 0 ? std::string("reset") : describe_status(step.status));
    }
    if (check.lifecycle.size() > kMaxListed)
      steps += fmt::format(" (+{} more)", check.lifecycle.size() - kMaxListed);
    out += fmt::format("  Device status: {}\n", steps);
  }
  out += fmt::format("  Conformance (vhostscope check, spec profile): {}\n",
                     violations.empty() ? std::string("no violation")
                                        : fmt::format("{} violation{}", violations.size(),
                                                      violations.size() == 1 ? "" : "s"));
  for (size_t k = 0; k < violations.size() && k < kMaxListed; ++k) {
    const Violation& v = violations[k];
    const Rule& r = rule_info(v.rule);
    out += fmt::format("    {} {} {}: {} (spec \"{}\"{})\n", r.id, side_name(v.blamed),
                       record_number(v.message), escape_text(v.observed), r.section,
                       r.virtio.empty() ? "" : fmt::format(", VIRTIO \"{}\"", r.virtio));
  }
  if (violations.size() > kMaxListed)
    out += fmt::format("    (+{} more)\n", violations.size() - kMaxListed);
}

}  // namespace

std::vector<RuleId> group_rules(const Store& store, const FindingGroup& g) {
  std::vector<RuleId> rules;
  for (size_t k = 0; k < g.entries.size() && k < kMaxListed; ++k) {
    const uint32_t e = g.entries[k];
    const StoreEntry& entry = store.entry(e);
    const DecodedMessage msg = entry.is_message() ? store.decoded(e) : DecodedMessage{};
    const Finding f{g.code, {}};
    const auto rule = rule_for_finding(f, entry.is_message() ? &msg : nullptr, entry.direction);
    if (rule && std::find(rules.begin(), rules.end(), *rule) == rules.end()) rules.push_back(*rule);
  }
  return rules;
}

std::vector<FeatureRow> feature_rows(const FeatureWord& word, DeviceKind device) {
  return rows_of(word, [device](unsigned bit) { return feature_name(device, bit); });
}

std::vector<FeatureRow> protocol_feature_rows(const FeatureWord& word) {
  return rows_of(word, [](unsigned bit) { return protocol_feature_name(bit); });
}

std::vector<WaitingRequest> waiting_requests(const Store& store, const StoreSession& session,
                                             uint64_t now_ns) {
  std::vector<WaitingRequest> out;
  const bool disconnected = session.ended() && (store.entry(session.disconnect_entry).record_flags &
                                                kRecordClosedByProxy) == 0;
  const uint64_t end = session.ended() ? store.entry(session.disconnect_entry).timestamp_ns
                       : now_ns        ? now_ns
                                       : store.last_timestamp();
  for (const PendingRequest& p : session.analyser.pending()) {
    if (p.ref >= store.size()) continue;
    WaitingRequest w;
    w.entry = static_cast<uint32_t>(p.ref);
    w.label = pending_label(p);
    w.waited_ns = end >= p.timestamp_ns ? end - p.timestamp_ns : 0;
    w.disconnected = disconnected;
    out.push_back(std::move(w));
  }
  return out;
}

std::string format_waiting(const WaitingRequest& w) {
  if (w.disconnected)
    return fmt::format("UNANSWERED {} — waited {} since message {}, until the connection closed",
                       w.label, format_duration(w.waited_ns), record_number(w.entry));
  return fmt::format("UNANSWERED {} — waiting {} since message {}", w.label,
                     format_duration(w.waited_ns), record_number(w.entry));
}

std::vector<FindingGroup> finding_groups(const Store& store, const StoreSession& session) {
  const size_t index = session_index_of(store, session);
  std::vector<FindingGroup> groups;
  for (uint32_t e : store.flagged()) {
    if (store.session_index(e) != index) continue;
    for (const Finding& f : store.findings(e)) {
      auto g = std::find_if(groups.begin(), groups.end(),
                            [&](const FindingGroup& x) { return x.code == f.code; });
      if (g == groups.end()) {
        groups.push_back({f.code, f.severity(), {}, f.detail});
        g = groups.end() - 1;
      }
      g->entries.push_back(e);
    }
  }
  std::stable_sort(groups.begin(), groups.end(), [](const FindingGroup& a, const FindingGroup& b) {
    return a.severity > b.severity;
  });
  return groups;
}

std::string format_ring_block(const Store& store, const StoreSession& session, uint64_t now_ns) {
  const RingTimeline& rings = session.rings;
  if (rings.empty() && rings.episodes().empty()) return {};
  const uint64_t base = store.first_timestamp();
  const uint64_t now = session.ended() ? rings.now_ns() : std::max(now_ns, rings.now_ns());
  uint64_t samples = 0;
  for (const auto& [queue, q] : rings.queues()) samples += q.samples;
  // Notifier findings (no kick/call fd) come from the messages, so they show without samples.
  std::string out =
      rings.empty()
          ? std::string("  Rings: no ring state sampled\n")
          : fmt::format("  Rings: {} queue{} sampled, {} ring state{}\n", rings.queues().size(),
                        rings.queues().size() == 1 ? "" : "s", samples, samples == 1 ? "" : "s");
  for (const auto& [queue, q] : rings.queues())
    out += fmt::format("    {} (at +{} s)\n", describe_ring_snapshot(q.last),
                       relative_time(q.last_ns, base));
  for (const RingEpisode& e : rings.episodes()) {
    const std::string_view id = finding_info(e.finding.code).id;
    if (e.active())
      out += fmt::format("    NOW   {} since +{} s: {}\n", id, relative_time(e.since_ns, base),
                         describe_episode(e, now));
    else
      out += fmt::format("    ENDED {} +{}..+{} s: {}\n", id, relative_time(e.since_ns, base),
                         relative_time(*e.ended_ns, base), describe_episode(e, now));
  }
  return out;
}

std::string format_session_summary(const Store& store, const StoreSession& session) {
  const SessionState& st = session.state();
  std::string out;
  const uint64_t first = store.entry(session.first_entry).timestamp_ns;
  const uint64_t last = store.entry(session.last_entry).timestamp_ns;
  out +=
      fmt::format("Session {}: {} record{}, {}..{}, {} to {} s ({})\n", session.id, session.entries,
                  session.entries == 1 ? "" : "s", record_number(session.first_entry),
                  record_number(session.last_entry), relative_time(first, store.first_timestamp()),
                  relative_time(last, store.first_timestamp()), format_duration(last - first));
  if (session.connect_entry != kNoEntry)
    out += fmt::format("  Connected: {} {}\n", record_number(session.connect_entry),
                       quote_text(store.text(session.connect_entry)));
  else
    out += "  Connected: before the capture started (negotiation may be missing)\n";
  if (session.ended())
    out += fmt::format("  Ended: {} {} {}\n", record_number(session.disconnect_entry),
                       store.entry(session.disconnect_entry).direction == Direction::ToBackend
                           ? "front-end closed"
                           : "back-end closed",
                       quote_text(store.text(session.disconnect_entry)));
  else
    out += "  Ended: still open when the capture ended\n";
  // How it was recognised: "fs (inferred from FUSE requests on queue 1)".
  std::string device_note;
  if (st.device_from_user)
    device_note = " (given)";
  else if (st.device != DeviceKind::Unknown)
    device_note = st.device_reason.empty() ? " (inferred)" : " (inferred " + st.device_reason + ")";
  else if (!st.device_reason.empty())
    device_note = " (" + st.device_reason + ")";
  out += fmt::format("  Device: {}{}\n", device_kind_name(st.device), device_note);
  out += '\n';
  features_block(out, "Virtio features", st.features, feature_rows(st.features, st.device), false,
                 st.device);
  out += '\n';
  features_block(out, "Protocol features", st.protocol_features,
                 protocol_feature_rows(st.protocol_features), true, st.device);
  out += '\n';
  memory_block(out, st);
  out += '\n';
  vring_block(out, st);
  out += '\n';
  notify_block(out, session);
  state_block(out, st);
  out += '\n';
  if (const std::string rings = format_ring_block(store, session); !rings.empty())
    out += rings + '\n';
  findings_block(out, store, finding_groups(store, session));
  conformance_block(out, store, session);
  const auto waiting = waiting_requests(store, session);
  if (!waiting.empty()) {
    out += '\n';
    out += fmt::format("  Waiting for an answer ({}):\n", waiting.size());
    for (const auto& w : waiting) out += "    " + format_waiting(w) + "\n";
  }
  return out;
}

}  // namespace vhs
