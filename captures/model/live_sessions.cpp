// LiveSessions: the Store's analysis (decode, session analyser, ring timeline) over a live record
// stream, keeping only what a file starting mid-session needs repeated.
#include "captures/model/live_sessions.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "decoders/session/ring_health.hpp"
#include "decoders/virtio/notify_record.hpp"
#include "decoders/virtio/ring_snapshot.hpp"

namespace vhs {
namespace {

NotifierSetting notifier_setting(NotifierSlot::State s) {
  switch (s) {
    case NotifierSlot::State::Unset: return NotifierSetting::Unset;
    case NotifierSlot::State::NoFd: return NotifierSetting::NoFd;
    case NotifierSlot::State::Fd: break;
  }
  return NotifierSetting::Fd;
}

bool is_error(const Finding& f) { return f.severity() == Severity::Error; }

}  // namespace

struct LiveSessions::Session {
  uint32_t id = 0;
  uint64_t records = 0;
  SessionAnalyser analyser;
  RingTimeline rings;
  size_t episodes_seen = 0;  // episodes [0, episodes_seen) were already looked at
  std::vector<VringFacts> vring_facts;
  uint64_t vring_facts_version = 0;
  std::vector<size_t> changed;  // scratch

  // The session's opening records (Connect, negotiation, setup). Only [0, prologue_clean) is
  // repeated: a cut where no request was waiting, so every request there has its answer there.
  std::vector<Kept> prologue;
  size_t prologue_bytes = 0;
  size_t prologue_clean = 0;
  bool prologue_closed = false;

  // Requests waiting for an answer (including optional acks that may never come): repeated so a
  // file whose records hold the answer pairs it with its request.
  struct Outstanding {
    Record record;
    bool optional = false;
  };
  std::map<uint64_t, Outstanding> outstanding;
  std::map<uint32_t, Kept> ring_states;  // newest RingState record per queue
  std::vector<uint64_t> timed_out;       // requests already reported as ReplyTimeout

  explicit Session(SessionAnalyser::Options options) : analyser(options) {}

  void keep_outstanding(uint64_t sequence, const Record& record, bool optional) {
    if (outstanding.size() >= kMaxOutstanding) {
      // Optional acks that never came are the ones to forget; a required answer is kept.
      auto victim = std::find_if(outstanding.begin(), outstanding.end(),
                                 [](const auto& o) { return o.second.optional; });
      if (victim == outstanding.end()) return;
      outstanding.erase(victim);
    }
    outstanding.emplace(sequence, Outstanding{record, optional});
  }

  void keep_in_prologue(uint64_t sequence, const Record& record) {
    if (prologue_closed) return;
    prologue.push_back({sequence, record});
    prologue_bytes += record.bytes.size() + record.fds.size() * sizeof(FdInfo);
  }

  // After the analyser has seen the record: move the clean cut, close at the bound.
  void settle_prologue() {
    if (prologue_closed) return;
    if (analyser.pending().empty()) prologue_clean = prologue.size();
    if (prologue.size() >= kPrologueRecords || prologue_bytes >= kPrologueBytes) {
      prologue.resize(prologue_clean);
      prologue.shrink_to_fit();
      prologue_closed = true;
    }
  }

  void feed_vring_facts(uint64_t ts_ns) {
    const SessionState& st = analyser.state();
    vring_facts_version = st.vring_notifier_changes;
    for (const VringState& v : st.vrings) {
      const VringFacts f{v.index, v.started, notifier_setting(v.kick.state),
                         notifier_setting(v.call.state), v.enabled};
      auto it = std::lower_bound(vring_facts.begin(), vring_facts.end(), v.index,
                                 [](const VringFacts& c, uint32_t q) { return c.queue < q; });
      const bool known = it != vring_facts.end() && it->queue == v.index;
      if (f == (known ? *it : VringFacts{v.index})) continue;
      if (known)
        *it = f;
      else
        vring_facts.insert(it, f);
      rings.observe_facts(f, ts_ns, kNoRingEntry, changed);
    }
  }

  // Ring episodes raised since the last look; error ones become live findings.
  void collect_episodes(uint64_t now_ns, std::vector<LiveFinding>& raised) {
    const auto& episodes = rings.episodes();
    for (; episodes_seen < episodes.size(); ++episodes_seen) {
      const RingEpisode& e = episodes[episodes_seen];
      if (!is_error(e.finding)) continue;
      LiveFinding f;
      f.kind = LiveFinding::Kind::RingEpisode;
      f.session = id;
      f.raised_ns = e.raised_ns != 0 ? e.raised_ns : now_ns;
      f.finding = e.finding;
      f.episode = episodes_seen;
      raised.push_back(std::move(f));
    }
  }
};

LiveSessions::LiveSessions() = default;
LiveSessions::~LiveSessions() = default;

LiveSessions::Session* LiveSessions::session_for(const Record& record) {
  auto it = sessions_.find(record.session);
  // Only the front-end connection starts a session (as in the Store); a Connect on an id with
  // traffic starts it afresh. The relay starts every session with that Connect, so a record of
  // an unknown session is a straggler of one that ended (its back-end channel closing after
  // it): following it would keep state for a session that is over, for ever.
  const bool connect = record.kind == RecordKind::Connect && record.channel == Channel::Frontend;
  if (it == sessions_.end() && !connect) return nullptr;
  if (it == sessions_.end() || (connect && it->second->records > 0)) {
    SessionAnalyser::Options options;
    options.seen_from_start = connect;
    auto s = std::make_unique<Session>(options);
    s->id = record.session;
    it = sessions_.insert_or_assign(record.session, std::move(s)).first;
  }
  ++it->second->records;
  return it->second.get();
}

LiveSessions::Observed LiveSessions::observe(const Record& record,
                                             std::vector<LiveFinding>& raised) {
  Observed out;
  out.sequence = next_sequence_++;
  Session* found = session_for(record);
  if (found == nullptr) return out;
  Session& s = *found;
  const uint64_t ts = record.timestamp_ns;
  auto one_shot = [&](Finding finding, uint64_t sequence) {
    if (!is_error(finding)) return;
    LiveFinding f;
    f.session = s.id;
    f.sequence = sequence;
    f.raised_ns = ts;
    f.finding = std::move(finding);
    raised.push_back(std::move(f));
  };

  s.changed.clear();
  s.rings.advance(ts, s.changed);
  switch (record.kind) {
    case RecordKind::Connect:
      s.keep_in_prologue(out.sequence, record);
      s.settle_prologue();
      break;
    case RecordKind::Disconnect:
      if (record.channel == Channel::Frontend) {
        // The session is over: what it left waiting is not a live hang any more (the Store
        // reports it from the capture), and nothing of it needs repeating.
        sessions_.erase(record.session);
        return out;
      }
      break;
    case RecordKind::Error:
      one_shot({(record.flags & kRecordRegionBeyondFd) != 0 ? FindingCode::RegionBeyondFd
                                                            : FindingCode::RelayFailed,
                std::string(record.text())},
               out.sequence);
      break;
    case RecordKind::Message: {
      const DecodedMessage msg =
          decode_message(record.channel, record.bytes, record.fds, s.analyser.decode_context());
      // As in the Store: a message that never reached the other side is not fed.
      const uint16_t not_sent = record.flags & (kRecordNotRelayed | kRecordInjected);
      const bool withheld = (msg.is_reply && not_sent == (kRecordNotRelayed | kRecordInjected)) ||
                            not_sent == kRecordNotRelayed;
      s.keep_in_prologue(out.sequence, record);
      Observation obs;
      if (!withheld)
        obs = s.analyser.on_message(out.sequence, ts, record.direction, msg, record.fds);
      for (const Finding& f : msg.findings) one_shot(f, out.sequence);
      for (Finding& f : obs.findings) one_shot(std::move(f), out.sequence);
      for (AttributedFinding& f : obs.earlier) one_shot(std::move(f.finding), f.ref);
      if (record.flags & kRecordFdsTruncated)
        one_shot({FindingCode::FdsTruncated, "the kernel dropped fds (MSG_CTRUNC)"}, out.sequence);
      if (record.flags & kRecordIncomplete)
        one_shot({FindingCode::PeerVanishedMidMessage, "the peer closed mid-message"},
                 out.sequence);
      if (obs.answers != kNoMessage) {
        out.answers_sequence = obs.answers;
        s.outstanding.erase(obs.answers);
      } else if (!withheld && obs.role == MessageRole::Request &&
                 obs.expects != ReplyExpectation::None) {
        s.keep_outstanding(out.sequence, record, obs.expects == ReplyExpectation::OptionalAck);
      }
      if (s.analyser.state().vring_notifier_changes != s.vring_facts_version)
        s.feed_vring_facts(ts);
      s.settle_prologue();
      break;
    }
    case RecordKind::RingState:
      if (auto snap = decode_ring_snapshot(record.bytes)) {
        s.rings.set_device(s.analyser.state().device, ts, s.changed);
        s.rings.observe(*snap, ts, kNoRingEntry, s.changed);
        if (s.ring_states.size() < kMaxRingQueues || s.ring_states.count(snap->queue) != 0)
          s.ring_states[snap->queue] = Kept{out.sequence, record};
      }
      break;
    case RecordKind::Notify:
      if (auto n = decode_notify(record.bytes)) s.rings.observe_notify(*n, ts, s.changed);
      break;
  }
  s.collect_episodes(ts, raised);
  return out;
}

std::vector<std::pair<uint32_t, const RingTimeline*>> LiveSessions::ring_timelines() const {
  std::vector<std::pair<uint32_t, const RingTimeline*>> out;
  out.reserve(sessions_.size());
  for (const auto& [id, session] : sessions_) out.emplace_back(id, &session->rings);
  return out;
}

void LiveSessions::advance(uint64_t now_ns, std::vector<LiveFinding>& raised) {
  for (auto& [id, sp] : sessions_) {
    Session& s = *sp;
    s.changed.clear();
    if (s.rings.watching()) s.rings.advance(now_ns, s.changed);
    s.collect_episodes(now_ns, raised);

    const std::vector<PendingRequest> waiting = s.analyser.pending();
    // Forget timed-out requests that were answered since (keeps the list short).
    std::erase_if(s.timed_out, [&](uint64_t ref) {
      return std::none_of(waiting.begin(), waiting.end(),
                          [ref](const PendingRequest& p) { return p.ref == ref; });
    });
    for (const PendingRequest& p : waiting) {
      if (std::find(s.timed_out.begin(), s.timed_out.end(), p.ref) != s.timed_out.end()) continue;
      const WaitingForReply w{p.info != nullptr ? p.info->name : std::string_view{}, p.channel,
                              p.timestamp_ns, p.vring};
      std::vector<Finding> found = reply_timeouts({&w, 1}, now_ns);
      if (found.empty()) continue;
      s.timed_out.push_back(p.ref);
      LiveFinding f;
      f.kind = LiveFinding::Kind::ReplyTimeout;
      f.session = id;
      f.sequence = p.ref;
      f.raised_ns = now_ns;
      f.finding = std::move(found.front());
      raised.push_back(std::move(f));
    }
  }
}

bool LiveSessions::active(const LiveFinding& f) const {
  auto it = sessions_.find(f.session);
  if (it == sessions_.end()) return false;  // the session ended: nothing is going on any more
  const Session& s = *it->second;
  switch (f.kind) {
    case LiveFinding::Kind::OneShot: return false;
    case LiveFinding::Kind::ReplyTimeout: {
      const auto waiting = s.analyser.pending();
      return std::any_of(waiting.begin(), waiting.end(),
                         [&](const PendingRequest& p) { return p.ref == f.sequence; });
    }
    case LiveFinding::Kind::RingEpisode:
      return f.episode < s.rings.episodes().size() && s.rings.episodes()[f.episode].active();
  }
  return false;
}

std::vector<SequencedRecord> LiveSessions::preamble(uint64_t first,
                                                    const std::vector<uint32_t>* only) const {
  std::vector<std::pair<uint64_t, const Record*>> picked;
  for (const auto& [id, sp] : sessions_) {
    if (only != nullptr && std::find(only->begin(), only->end(), id) == only->end()) continue;
    const Session& s = *sp;
    for (size_t k = 0; k < s.prologue_clean && k < s.prologue.size(); ++k)
      if (s.prologue[k].sequence < first)
        picked.emplace_back(s.prologue[k].sequence, &s.prologue[k].record);
    for (const auto& [sequence, o] : s.outstanding)
      if (sequence < first) picked.emplace_back(sequence, &o.record);
    for (const auto& [queue, k] : s.ring_states)
      if (k.sequence < first) picked.emplace_back(k.sequence, &k.record);
  }
  // A waiting request may be in the prologue too: once, in the order the proxy saw them.
  std::sort(picked.begin(), picked.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  picked.erase(std::unique(picked.begin(), picked.end(),
                           [](const auto& a, const auto& b) { return a.first == b.first; }),
               picked.end());
  std::vector<SequencedRecord> out;
  out.reserve(picked.size());
  for (const auto& [sequence, record] : picked) {
    out.push_back({sequence, *record});
    out.back().record.flags |= kRecordRepeated;
  }
  return out;
}

size_t LiveSessions::sessions() const { return sessions_.size(); }

}  // namespace vhs
