// Store: the single ingest path (decode, analyse, append) and the compact entry model behind the
// CLI and the GUI.
#include "captures/model/store.hpp"

#include <algorithm>
#include <functional>
#include <limits>

#include <fmt/format.h>

#include "captures/format/capture_file.hpp"
#include "captures/format/mapped_capture.hpp"
#include "decoders/session/backend_gone.hpp"

namespace vhs {
namespace {

const std::vector<Finding>& no_findings() {
  static const std::vector<Finding> empty;
  return empty;
}

NotifierSetting notifier_setting(NotifierSlot::State s) {
  switch (s) {
    case NotifierSlot::State::Unset: return NotifierSetting::Unset;
    case NotifierSlot::State::NoFd: return NotifierSetting::NoFd;
    case NotifierSlot::State::Fd: break;
  }
  return NotifierSetting::Fd;
}

}  // namespace

Store::Store(Options options) : options_(options) { contexts_.push_back(DecodeContext{}); }

StoreSession& Store::session_for(const RecordView& record, uint32_t entry_index) {
  // The latest session with this id; a Connect on an id that already has traffic starts afresh.
  StoreSession* found = nullptr;
  // Consecutive records are mostly of one session: the map only when the session changes.
  if (last_session_ < sessions_.size() && sessions_[last_session_].id == record.session)
    found = &sessions_[last_session_];
  else if (auto latest = latest_session_.find(record.session); latest != latest_session_.end())
    found = &sessions_[latest->second];
  // Only the front-end connection starts a session; the back-end channel's Connect/Disconnect
  // (interposed socketpair) are events inside it.
  const bool connect = record.kind == RecordKind::Connect && record.channel == Channel::Frontend;
  if (!found || (connect && found->entries > 0)) {
    SessionAnalyser::Options opts;
    opts.device = options_.device;
    // Without a Connect we joined mid-way: negotiation may have happened before the capture.
    opts.seen_from_start = connect;
    StoreSession s;
    s.id = record.session;
    s.analyser = SessionAnalyser(opts);
    if (options_.check_conformance) {
      ConformanceChecker::Options check;
      check.device = options_.device;
      check.seen_from_start = connect;
      s.checker.emplace(check);
    }
    sessions_.push_back(std::move(s));
    found = &sessions_.back();
    latest_session_[record.session] = static_cast<uint32_t>(sessions_.size() - 1);
  }
  last_session_ = static_cast<size_t>(found - sessions_.data());
  if (found->first_entry == kNoEntry) found->first_entry = entry_index;
  found->last_entry = entry_index;
  ++found->entries;
  return *found;
}

uint32_t Store::intern_context(const DecodeContext& ctx) {
  // Contexts change a handful of times per session; sessions interleave, so look a few back.
  const size_t n = contexts_.size();
  for (size_t back = 0; back < std::min<size_t>(n, 8); ++back) {
    const DecodeContext& c = contexts_[n - 1 - back];
    if (c.protocol_features == ctx.protocol_features &&
        c.protocol_features_known == ctx.protocol_features_known && c.device == ctx.device)
      return static_cast<uint32_t>(n - 1 - back);
  }
  contexts_.push_back(ctx);
  return static_cast<uint32_t>(contexts_.size() - 1);
}

uint32_t Store::intern_fds(std::span<const FdInfo> run) {
  if (run.empty()) return kNoEntry;
  // A word at a time (multiply and rotate, as in FNV's spirit but 8 bytes per step): most
  // messages of a busy capture carry no fds, but those that do are hashed on every ingest.
  uint64_t hash = 0xcbf29ce484222325;
  const auto mix = [&hash](uint64_t v) {
    hash = (hash ^ v) * 0x100000001b3;
    hash ^= hash >> 29;
  };
  for (const FdInfo& fd : run) {
    mix(static_cast<uint64_t>(fd.kind));
    mix(fd.inode);
    mix(fd.size);
    mix(std::hash<std::string_view>{}(fd.name));
  }
  if (auto it = fd_runs_.find(hash); it != fd_runs_.end()) {
    const std::span<const FdInfo> known = fd_run_list_[it->second];
    if (std::equal(run.begin(), run.end(), known.begin(), known.end())) return it->second;
  } else if (fd_runs_.size() < kMaxInternedFdRuns) {
    fd_runs_.emplace(hash, static_cast<uint32_t>(fd_run_list_.size()));
  }
  fd_run_list_.push_back(fd_arena_.append(run));
  return static_cast<uint32_t>(fd_run_list_.size() - 1);
}

void Store::set_bytes_address(IndexEntry& e, uint32_t index, const uint8_t* at) {
  const size_t chunk = index >> kIndexChunkBits;
  if (chunk_bases_.size() <= chunk) chunk_bases_.resize(chunk + 1, nullptr);
  if (at == nullptr) {
    e.bytes_offset = 0;  // no bytes: bytes() gives an empty span and never reads the address
    return;
  }
  if (chunk_bases_[chunk] == nullptr) chunk_bases_[chunk] = at;
  // Integer arithmetic: the two addresses may lie in different allocations.
  const auto distance = static_cast<int64_t>(reinterpret_cast<uintptr_t>(at) -
                                             reinterpret_cast<uintptr_t>(chunk_bases_[chunk]));
  if (distance > std::numeric_limits<int32_t>::min() &&
      distance <= std::numeric_limits<int32_t>::max()) {
    e.bytes_offset = static_cast<int32_t>(distance);
    return;
  }
  e.bytes_offset = kFarBytes;
  far_bytes_.emplace(index, at);
}

const uint8_t* Store::bytes_address(size_t i) const {
  const IndexEntry& e = entries_[i];
  if (e.bytes_size == 0) return nullptr;  // (a wide size is never 0)
  if (e.bytes_offset == kFarBytes) return far_bytes_.at(static_cast<uint32_t>(i));
  return reinterpret_cast<const uint8_t*>(
      reinterpret_cast<uintptr_t>(chunk_bases_[i >> kIndexChunkBits]) +
      static_cast<uintptr_t>(static_cast<int64_t>(e.bytes_offset)));
}

Store::EntryDetail& Store::detail_of(uint32_t entry) {
  IndexEntry& e = entries_[entry];
  if (e.detail == kNoEntry) {
    e.detail = static_cast<uint32_t>(details_.size());
    details_.push_back(EntryDetail{});
  }
  return details_[e.detail];
}

void Store::add_finding(uint32_t entry, Finding finding) {
  EntryDetail& d = detail_of(entry);
  if (d.findings == kNoEntry) {
    d.findings = static_cast<uint32_t>(finding_lists_.size());
    finding_lists_.emplace_back();
  }
  const Severity sev = finding.severity();
  finding_lists_[d.findings].push_back(std::move(finding));
  IndexEntry& e = entries_[entry];
  const auto worst = static_cast<Severity>(e.bits >> kWorstShift);
  if ((e.bits & kFlaggedBit) == 0) {
    e.bits = static_cast<uint8_t>((e.bits & (kToFrontendBit | kBackendChannelBit)) | kFlaggedBit |
                                  (static_cast<uint8_t>(sev) << kWorstShift));
    // Usually the newest entry; findings about earlier ones (Unanswered) need an insert.
    auto at = std::lower_bound(flagged_.begin(), flagged_.end(), entry);
    flagged_.insert(at, entry);
  } else if (sev > worst) {
    e.bits = static_cast<uint8_t>((e.bits & ((1u << kWorstShift) - 1)) |
                                  (static_cast<uint8_t>(sev) << kWorstShift));
  }
}

void Store::apply_attributed(std::vector<AttributedFinding>& found) {
  for (auto& f : found)
    if (f.ref < entries_.size()) add_finding(static_cast<uint32_t>(f.ref), std::move(f.finding));
}

void Store::append(const Record& record) {
  RecordView view(record);
  const size_t nbytes = std::min<size_t>(record.bytes.size(), std::numeric_limits<uint32_t>::max());
  view.bytes = byte_arena_.append({record.bytes.data(), nbytes});
  ingest(view);
}

void Store::append_stable(const RecordView& record) { ingest(record); }

void Store::attach(std::shared_ptr<MappedCapture> mapping) {
  mappings_.push_back(std::move(mapping));
}

void Store::ingest(const RecordView& record) {
  const auto index = static_cast<uint32_t>(entries_.size());
  IndexEntry e;
  e.timestamp_low = static_cast<uint32_t>(record.timestamp_ns);
  e.timestamp_high = static_cast<uint32_t>(record.timestamp_ns >> 32);
  e.kind = record.kind;
  e.bits = static_cast<uint8_t>((record.direction == Direction::ToFrontend ? kToFrontendBit : 0) |
                                (record.channel == Channel::Backend ? kBackendChannelBit : 0));
  e.record_flags = record.flags;
  const size_t nbytes = std::min<size_t>(record.bytes.size(), std::numeric_limits<uint32_t>::max());
  const std::span<const uint8_t> stored_bytes{record.bytes.data(), nbytes};
  if (nbytes < kWide) {
    e.bytes_size = static_cast<uint16_t>(nbytes);
  } else {
    e.bytes_size = kWide;
    wide_sizes_.emplace(index, static_cast<uint32_t>(nbytes));
  }
  set_bytes_address(e, index, nbytes > 0 ? stored_bytes.data() : nullptr);
  const size_t nfds = std::min<size_t>(record.fds.size(), std::numeric_limits<uint16_t>::max());
  const uint32_t fd_run = intern_fds({record.fds.data(), nfds});
  const std::span<const FdInfo> stored_fds =
      fd_run == kNoEntry ? std::span<const FdInfo>{} : fd_run_list_[fd_run];

  StoreSession& session = session_for(record, index);
  const auto session_index = static_cast<uint32_t>(&session - sessions_.data());
  if (session_index < kWide) {
    e.session_index = static_cast<uint16_t>(session_index);
  } else {
    e.session_index = kWide;
    wide_sessions_.emplace(index, session_index);
  }
  // Messages always have a detail entry; other records only when they carry fds (or, later,
  // findings).
  EntryDetail d;
  const bool has_detail = record.kind == RecordKind::Message || nfds > 0;
  d.fds = fd_run;

  std::vector<Finding> findings;
  std::vector<AttributedFinding> earlier;
  ring_changed_.clear();
  // Every record of the session moves its ring clock: a frozen ring produces no snapshots.
  if (!session.ended()) session.rings.advance(record.timestamp_ns, ring_changed_);
  switch (record.kind) {
    case RecordKind::Connect:
      if (record.channel == Channel::Frontend) {
        if (session.connect_entry == kNoEntry) on_frontend_connect(session, record.text());
        session.connect_entry = index;
      }
      break;
    case RecordKind::Disconnect:
      if (record.channel == Channel::Frontend) {
        session.disconnect_entry = index;
        const bool peer_closed = (record.flags & kRecordClosedByProxy) == 0;
        // A back-end that went away with requests in flight leaves the guest waiting for them.
        const SessionCloser closer = closer_of_disconnect(record.direction, !peer_closed);
        for (const auto& [queue, q] : session.rings.queues())
          if (auto f =
                  backend_gone_in_flight(closer, q.last, session.state().vring(queue),
                                         session.state().device, q.last_ns, record.timestamp_ns))
            findings.push_back(std::move(*f));
        const auto end =
            peer_closed ? SessionAnalyser::End::PeerClosed : SessionAnalyser::End::RecorderStopped;
        earlier = session.analyser.finish(record.timestamp_ns, end);
        if (session.checker) session.checker->finish(record.timestamp_ns, end);
        session.rings.settle(record.timestamp_ns, ring_changed_);
      }
      break;
    case RecordKind::Error:
      findings.push_back({(record.flags & kRecordRegionBeyondFd) != 0 ? FindingCode::RegionBeyondFd
                                                                      : FindingCode::RelayFailed,
                          std::string(record.text())});
      break;
    case RecordKind::Message: {
      const DecodeContext ctx = session.analyser.decode_context();
      d.context = intern_context(ctx);
      DecodedMessage msg = decode_message(record.channel, stored_bytes, stored_fds, ctx);
      // A reply fault injection withheld (replace-reply) never reached the front-end: the session
      // analyser does not see it, so the injected reply pairs up with the request. (A dropped
      // request is fed: its sender still waits for the answer.) A message the proxy refused to
      // relay (oversized: the proxy closed the connection instead) was never sent either, so it
      // waits for no answer and is not "unanswered".
      const uint16_t not_sent = record.flags & (kRecordNotRelayed | kRecordInjected);
      const bool withheld = (msg.is_reply && not_sent == (kRecordNotRelayed | kRecordInjected)) ||
                            not_sent == kRecordNotRelayed;
      Observation obs = withheld ? Observation{}
                                 : session.analyser.on_message(index, record.timestamp_ns,
                                                               record.direction, msg, stored_fds);
      if (!withheld && session.checker)
        session.checker->on_message(index, record.timestamp_ns, record.direction, msg, stored_fds);
      d.header = msg.header;
      d.header_complete = msg.header_complete;
      d.role = obs.role;
      d.expects = obs.expects;
      d.latency_ns = obs.latency_ns;
      if (obs.answers != kNoMessage && obs.answers < index) {
        d.peer = static_cast<uint32_t>(obs.answers);
        detail_of(static_cast<uint32_t>(obs.answers)).peer = index;
      }
      findings = std::move(msg.findings);
      for (auto& f : obs.findings) findings.push_back(std::move(f));
      earlier = std::move(obs.earlier);
      if (session.state().vring_notifier_changes != session.vring_facts_version && !session.ended())
        feed_vring_facts(session, record.timestamp_ns, index);
      // Transport facts only the proxy knew, carried in the record flags.
      if (record.flags & kRecordFdsTruncated)
        findings.push_back(
            {FindingCode::FdsTruncated,
             fmt::format("the kernel dropped fds (MSG_CTRUNC); {} arrived", record.fds.size())});
      if (record.flags & kRecordIncomplete)
        findings.push_back(
            {FindingCode::PeerVanishedMidMessage,
             fmt::format("only {} bytes arrived before the peer closed", record.bytes.size())});
      break;
    }
    case RecordKind::RingState: {
      std::string error;
      auto snap = decode_ring_snapshot(stored_bytes, &error);
      if (!snap)
        findings.push_back(
            {FindingCode::InvalidField, "ring-state record not understood: " + error});
      if (snap && session.checker) session.checker->on_ring_state(index, record.timestamp_ns, *snap);
      if (snap && !session.ended()) {
        // The requests in flight are evidence of the device; the hang rules then read the oldest
        // as that device.
        session.analyser.on_ring_state(*snap);
        const SessionState& st = session.state();
        redetail_ring_snapshot(*snap, st.device, st.features.acked.value_or(0));
        session.rings.set_device(st.device, record.timestamp_ns, ring_changed_);
        session.rings.observe(*snap, record.timestamp_ns, index, ring_changed_);
      }
      break;
    }
    case RecordKind::Notify: {
      const auto n = decode_notify(stored_bytes);
      if (!n) {
        ++session.notify_undecodable;
        break;
      }
      NotifyTotals& t = session.notify_totals[n->queue];
      ++t.records;
      if (n->event == NotifyEvent::Relayed || n->event == NotifyEvent::Released)
        t.relayed[static_cast<size_t>(n->source)] += n->count;
      if (n->event == NotifyEvent::Held) t.held += n->count;
      // Interposed kicks tell the hang rules whether the driver announced its buffers.
      if (!session.ended()) session.rings.observe_notify(*n, record.timestamp_ns, ring_changed_);
      break;
    }
  }
  if (has_detail) {
    e.detail = static_cast<uint32_t>(details_.size());
    details_.push_back(d);
  }
  entries_.push_back(e);
  for (auto& f : findings) add_finding(index, std::move(f));
  apply_attributed(earlier);
  if (!ring_changed_.empty()) sync_ring_findings(session, ring_changed_, index);
  // Findings still active when the session ends are what the capture shows at its end.
  if (record.kind == RecordKind::Disconnect && record.channel == Channel::Frontend)
    close_ring_findings(session);
}

std::string frontend_path_of(std::string_view note) {
  const size_t who = note.find("front-end");
  if (who == std::string_view::npos) return {};
  const size_t open = note.find(" on '", who);
  const size_t end_of_part = note.find(';', who);
  if (open == std::string_view::npos || open > end_of_part) return {};
  const size_t begin = open + 5;
  // The path ends at the quote that closes this part of the note (paths may hold quotes).
  const size_t close =
      note.rfind('\'', end_of_part == std::string_view::npos ? note.size() : end_of_part);
  if (close == std::string_view::npos || close < begin) return {};
  return std::string(note.substr(begin, close - begin));
}

void Store::on_frontend_connect(StoreSession& session, std::string_view note) {
  session.frontend_path = frontend_path_of(note);
  if (session.frontend_path.empty() || session.state().device_from_user) return;
  for (auto it = sessions_.rbegin(); it != sessions_.rend(); ++it) {
    if (&*it == &session || it->frontend_path != session.frontend_path) continue;
    // The latest earlier session on this socket: its device, if it recognised one.
    if (it->state().device != DeviceKind::Unknown)
      session.analyser.inherit_device(
          it->state().device, fmt::format("from session {} on the same front-end socket", it->id));
    return;
  }
}

void Store::sync_ring_findings(StoreSession& session, std::span<const size_t> changed,
                               uint32_t fallback_entry) {
  const auto& episodes = session.rings.episodes();
  for (size_t k : changed) {
    const RingEpisode& ep = episodes[k];
    if (session.ring_findings.size() <= k) session.ring_findings.resize(k + 1, {kNoEntry, 0});
    auto& ref = session.ring_findings[k];
    if (ref.first == kNoEntry) {
      const uint32_t entry = ep.entry < entries_.size() ? ep.entry : fallback_entry;
      if (entry >= entries_.size()) continue;
      ref = {entry, static_cast<uint32_t>(findings(entry).size())};
      add_finding(entry, ep.finding);
    }
    if (!ep.active())
      finding_lists_[details_[entries_[ref.first].detail].findings][ref.second].detail =
          describe_episode(ep, ep.ended_ns.value_or(0));
  }
}

void Store::close_ring_findings(StoreSession& session) {
  const auto& episodes = session.rings.episodes();
  for (size_t k = 0; k < episodes.size() && k < session.ring_findings.size(); ++k) {
    const auto& ref = session.ring_findings[k];
    if (episodes[k].active() && ref.first != kNoEntry)
      finding_lists_[details_[entries_[ref.first].detail].findings][ref.second].detail =
          describe_episode(episodes[k], session.rings.now_ns());
  }
}

void Store::feed_vring_facts(StoreSession& session, uint64_t ts_ns, uint32_t entry) {
  const SessionState& st = session.state();
  session.vring_facts_version = st.vring_notifier_changes;
  auto& cached = session.vring_facts;
  for (const VringState& v : st.vrings) {
    const VringFacts f{v.index, v.started, notifier_setting(v.kick.state),
                       notifier_setting(v.call.state), v.enabled};
    auto it = std::lower_bound(cached.begin(), cached.end(), v.index,
                               [](const VringFacts& c, uint32_t q) { return c.queue < q; });
    const bool known = it != cached.end() && it->queue == v.index;
    if (f == (known ? *it : VringFacts{v.index})) continue;
    if (known)
      *it = f;
    else
      cached.insert(it, f);
    session.rings.observe_facts(f, ts_ns, entry, ring_changed_);
  }
}

bool Store::advance_time(uint64_t now_ns) {
  bool raised = false;
  for (auto& s : sessions_) {
    if (s.ended() || !s.rings.watching()) continue;
    ring_changed_.clear();
    s.rings.advance(now_ns, ring_changed_);
    if (ring_changed_.empty()) continue;
    sync_ring_findings(s, ring_changed_, s.last_entry);
    raised = true;
  }
  return raised;
}

void Store::finish(uint64_t end_timestamp_ns) {
  const uint64_t end = end_timestamp_ns ? end_timestamp_ns : last_timestamp();
  for (auto& s : sessions_) {
    if (s.analyser.finished()) continue;
    // No disconnect record: the capture was cut (or is still being written).
    auto found = s.analyser.finish(end, SessionAnalyser::End::CaptureCut);
    apply_attributed(found);
    if (s.ended()) continue;
    ring_changed_.clear();
    s.rings.settle(end, ring_changed_);
    if (!ring_changed_.empty()) sync_ring_findings(s, ring_changed_, s.last_entry);
    close_ring_findings(s);
  }
}

StoreEntry Store::entry(size_t i) const {
  const IndexEntry& e = entries_[i];
  StoreEntry out;
  out.timestamp_ns = e.timestamp_ns();
  out.bytes_size = bytes_size(i);
  out.record_flags = e.record_flags;
  out.session_index = session_index(i);
  out.session = sessions_[out.session_index].id;
  out.kind = e.kind;
  out.direction = (e.bits & kToFrontendBit) != 0 ? Direction::ToFrontend : Direction::ToBackend;
  out.channel = (e.bits & kBackendChannelBit) != 0 ? Channel::Backend : Channel::Frontend;
  out.has_findings = (e.bits & kFlaggedBit) != 0;
  out.worst = static_cast<Severity>(e.bits >> kWorstShift);
  if (e.detail != kNoEntry) {
    const EntryDetail& d = details_[e.detail];
    out.latency_ns = d.latency_ns;
    out.fd_count = d.fds == kNoEntry ? 0 : static_cast<uint16_t>(fd_run_list_[d.fds].size());
    out.peer = d.peer;
    out.header = d.header;
    // As decode_message finds it: the registry row of a complete header's request.
    out.info = d.header_complete ? find_request(out.channel, d.header.request) : nullptr;
    out.role = d.role;
    out.expects = d.expects;
    out.header_complete = d.header_complete;
  }
  return out;
}

uint32_t Store::bytes_size(size_t i) const {
  const uint16_t narrow = entries_[i].bytes_size;
  return narrow != kWide ? narrow : wide_sizes_.at(static_cast<uint32_t>(i));
}

size_t Store::index_bytes() const {
  return entries_.size() * sizeof(IndexEntry) + details_.size() * sizeof(EntryDetail);
}

std::span<const uint8_t> Store::bytes(size_t i) const {
  const uint8_t* at = bytes_address(i);
  for (const auto& m : mappings_) m->note_access(at);
  return {at, bytes_size(i)};
}

std::span<const FdInfo> Store::fds(size_t i) const {
  const IndexEntry& e = entries_[i];
  if (e.detail == kNoEntry) return {};
  const uint32_t run = details_[e.detail].fds;
  return run == kNoEntry ? std::span<const FdInfo>{} : fd_run_list_[run];
}

std::string_view Store::text(size_t i) const {
  auto b = bytes(i);
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

std::span<const Finding> Store::findings(size_t i) const {
  const IndexEntry& e = entries_[i];
  if (e.detail == kNoEntry) return no_findings();
  const uint32_t list = details_[e.detail].findings;
  return list == kNoEntry ? no_findings() : finding_lists_[list];
}

DecodeContext Store::context(size_t i) const {
  const IndexEntry& e = entries_[i];
  DecodeContext ctx = contexts_[e.detail == kNoEntry ? 0 : details_[e.detail].context];
  ctx.device = session_of(i).state().device;
  return ctx;
}

std::optional<RingSnapshot> Store::ring_snapshot(size_t i, std::string* error) const {
  if (entries_[i].kind != RecordKind::RingState) {
    if (error) *error = "not a ring-state record";
    return std::nullopt;
  }
  auto snap = decode_ring_snapshot(bytes(i), error);
  if (snap) {
    const SessionState& st = session_of(i).state();
    redetail_ring_snapshot(*snap, st.device, st.features.acked.value_or(0));
  }
  return snap;
}

DecodedMessage Store::decoded(size_t i) const {
  const IndexEntry& e = entries_[i];
  if (e.kind != RecordKind::Message) return DecodedMessage{};
  const Channel channel = (e.bits & kBackendChannelBit) != 0 ? Channel::Backend : Channel::Frontend;
  return decode_message(channel, bytes(i), fds(i), context(i));
}

const StoreSession* Store::find_session(uint32_t id) const {
  const auto latest = latest_session_.find(id);
  return latest == latest_session_.end() ? nullptr : &sessions_[latest->second];
}

SeverityCounts Store::severity_counts() const {
  SeverityCounts c;
  for (uint32_t i : flagged_)
    for (const auto& f : findings(i)) {
      switch (f.severity()) {
        case Severity::Info: ++c.info; break;
        case Severity::Warning: ++c.warning; break;
        case Severity::Error: ++c.error; break;
      }
    }
  return c;
}

// ---- RecordQueue ----

namespace {

// What a queued record costs in memory, roughly: enough to bound the backlog.
size_t record_cost(const Record& r) {
  return sizeof(Record) + r.bytes.size() + r.fds.size() * sizeof(FdInfo);
}

}  // namespace

RecordQueue::RecordQueue(size_t max_bytes) : max_bytes_(max_bytes) {}

void RecordQueue::on_record(const Record& record) { push(Record(record)); }

void RecordQueue::push(Record&& record) {
  const size_t cost = record_cost(record);
  {
    std::lock_guard lock(mutex_);
    if (closed_) return;
    if (!queued_.empty() && queued_bytes_ + cost > max_bytes_) {
      ++dropped_total_;
      ++dropped_unreported_;
      last_timestamp_ = record.timestamp_ns;
      last_session_ = record.session;
      return;
    }
    if (dropped_unreported_ > 0) {
      // Mark the gap where it happened, before the first record that got through again.
      last_timestamp_ = record.timestamp_ns;
      queued_.push_back(gap_record());
    }
    queued_bytes_ += cost;
    queued_.push_back(std::move(record));
  }
  ready_.notify_one();
}

Record RecordQueue::gap_record() {
  Record gap;
  gap.kind = RecordKind::Error;
  gap.session = last_session_;
  gap.timestamp_ns = last_timestamp_;
  const std::string text = fmt::format(
      "{} records not shown: the viewer fell behind the live capture", dropped_unreported_);
  gap.bytes.assign(text.begin(), text.end());
  dropped_unreported_ = 0;
  return gap;
}

void RecordQueue::close() {
  {
    std::lock_guard lock(mutex_);
    closed_ = true;
  }
  ready_.notify_all();
}

size_t RecordQueue::drain(Store& store) {
  batch_.clear();
  {
    std::lock_guard lock(mutex_);
    batch_.swap(queued_);
    queued_bytes_ = 0;
    if (dropped_unreported_ > 0) batch_.push_back(gap_record());
  }
  for (const auto& r : batch_) store.append(r);
  const size_t n = batch_.size();
  batch_.clear();  // keeps capacity for the next swap
  return n;
}

bool RecordQueue::wait(int timeout_ms) {
  std::unique_lock lock(mutex_);
  ready_.wait_for(lock, std::chrono::milliseconds(timeout_ms),
                  [&] { return !queued_.empty() || dropped_unreported_ > 0 || closed_; });
  return !queued_.empty() || dropped_unreported_ > 0;
}

bool RecordQueue::closed() const {
  std::lock_guard lock(mutex_);
  return closed_;
}

uint64_t RecordQueue::dropped() const {
  std::lock_guard lock(mutex_);
  return dropped_total_;
}

}  // namespace vhs
