// The flight recorder's bounded memory and window policy (see window_recorder.hpp).
#include "captures/model/window_recorder.hpp"

#include <algorithm>
#include <string_view>

namespace vhs {
namespace {

constexpr uint64_t kHourNs = 3600ull * 1'000'000'000ull;

size_t record_size(const Record& r) {
  return sizeof(Record) + r.bytes.size() + r.fds.size() * sizeof(FdInfo);
}

}  // namespace

WindowRecorder::WindowRecorder(WindowOptions options) : options_(options) {}

void WindowRecorder::on_record(const Record& record) {
  raised_.clear();
  const LiveSessions::Observed seen = live_.observe(record, raised_);
  Buffered b;
  b.sequence = seen.sequence;
  b.answers_sequence = seen.answers_sequence;
  b.bytes = record_size(record);
  b.record = record;
  buffer_bytes_ += b.bytes;
  buffer_.push_back(std::move(b));
  newest_ns_ = std::max(newest_ns_, record.timestamp_ns);
  handle(raised_, record.timestamp_ns);
  // A late reply or a ring that moved may have cleared the window's hangs.
  if (open_ && (record.timestamp_ns >= open_->deadline_ns || cleared()))
    close_window(record.timestamp_ns, false);
  evict(newest_ns_);
}

void WindowRecorder::advance(uint64_t now_ns) {
  raised_.clear();
  live_.advance(now_ns, raised_);
  handle(raised_, now_ns);
  if (open_ && (now_ns >= open_->deadline_ns || cleared())) close_window(now_ns, false);
  evict(std::max(now_ns, newest_ns_));
}

void WindowRecorder::stop(uint64_t now_ns) {
  if (open_) close_window(now_ns, true);
}

std::vector<FlightWindow> WindowRecorder::take_finished() {
  std::vector<FlightWindow> out;
  out.swap(finished_);
  return out;
}

void WindowRecorder::handle(std::vector<LiveFinding>& raised, uint64_t now_ns) {
  for (LiveFinding& f : raised) {
    if (open_) {
      open_->findings.push_back(std::move(f));
      continue;
    }
    while (!opened_at_.empty() && opened_at_.front() + kHourNs <= now_ns) opened_at_.pop_front();
    if (opened_at_.size() >= options_.max_windows_per_hour) {
      ++suppressed_;
      continue;
    }
    opened_at_.push_back(now_ns);
    open_window(f, now_ns);
  }
  raised.clear();
}

void WindowRecorder::open_window(const LiveFinding& first, uint64_t now_ns) {
  Open w;
  w.trigger_ns = first.raised_ns != 0 ? first.raised_ns : now_ns;
  w.deadline_ns = w.trigger_ns + options_.keep_ns;
  const uint64_t start_ns = w.trigger_ns > options_.keep_ns ? w.trigger_ns - options_.keep_ns : 0;
  auto it = std::find_if(buffer_.begin(), buffer_.end(),
                         [&](const Buffered& b) { return b.record.timestamp_ns >= start_ns; });
  w.first_sequence = it != buffer_.end() ? it->sequence : live_.observed();
  // The sessions the window shows need their earlier state repeated; a session that connects
  // later in the window brings its own Connect.
  std::vector<uint32_t> sessions{first.session};
  for (auto b = it; b != buffer_.end(); ++b)
    if (std::find(sessions.begin(), sessions.end(), b->record.session) == sessions.end())
      sessions.push_back(b->record.session);
  w.preamble = live_.preamble(w.first_sequence, &sessions);
  w.findings.push_back(first);
  open_ = std::move(w);
}

bool WindowRecorder::cleared() const {
  for (const LiveFinding& f : open_->findings)
    if (f.kind == LiveFinding::Kind::OneShot || live_.active(f)) return false;
  return true;
}

void WindowRecorder::close_window(uint64_t now_ns, bool by_stop) {
  Open& o = *open_;
  FlightWindow w;
  w.trigger_ns = o.trigger_ns;
  w.findings = std::move(o.findings);
  w.cut_by_stop = by_stop;
  w.lost = o.lost;
  std::vector<uint64_t> repeated;
  repeated.reserve(o.preamble.size());
  for (SequencedRecord& p : o.preamble) {
    repeated.push_back(p.sequence);
    w.records.push_back(std::move(p.record));
  }
  w.repeated = w.records.size();
  for (const Buffered& b : buffer_) {
    if (b.sequence < o.first_sequence) continue;
    // A reply whose request is neither in the window nor repeated would read as unexpected.
    if (b.answers_sequence != kNoSequence && b.answers_sequence < o.first_sequence &&
        !std::binary_search(repeated.begin(), repeated.end(), b.answers_sequence)) {
      ++w.dropped_replies;
      continue;
    }
    if (w.records.size() == w.repeated) w.first_ns = b.record.timestamp_ns;
    w.last_ns = b.record.timestamp_ns;
    w.records.push_back(b.record);
  }
  if (w.records.size() == w.repeated) w.first_ns = now_ns;
  // Every session still open gets a closing record at the window's end: a hang is silent, and
  // without it a reader would think a request waiting at the end had waited only until the
  // window's last message.
  const uint64_t end_ns = std::max(now_ns, w.last_ns);
  std::vector<uint32_t> open_sessions;
  for (const Record& r : w.records) {
    if (r.kind == RecordKind::Disconnect && r.channel == Channel::Frontend)
      std::erase(open_sessions, r.session);
    else if (std::find(open_sessions.begin(), open_sessions.end(), r.session) ==
             open_sessions.end())
      open_sessions.push_back(r.session);
  }
  for (uint32_t session : open_sessions) {
    Record end;
    end.kind = RecordKind::Disconnect;
    end.channel = Channel::Frontend;
    end.flags = kRecordClosedByProxy | kRecordWindowEnd;
    end.session = session;
    end.timestamp_ns = end_ns;
    constexpr std::string_view kNote = "flight-recorder window ends here; the session went on";
    end.bytes.assign(kNote.begin(), kNote.end());
    w.records.push_back(std::move(end));
    ++w.closing;
  }
  w.last_ns = end_ns;
  finished_.push_back(std::move(w));
  open_.reset();
}

void WindowRecorder::evict(uint64_t now_ns) {
  // Older than DURATION: no finding from now on can want it (a window reaches back DURATION
  // from its finding) — unless the open window holds it.
  while (!buffer_.empty()) {
    const Buffered& front = buffer_.front();
    if (open_ && front.sequence >= open_->first_sequence) break;
    if (front.record.timestamp_ns + options_.keep_ns >= now_ns) break;
    buffer_bytes_ -= front.bytes;
    buffer_.pop_front();
  }
  // The byte cap holds even against an open window: its oldest records go first, counted.
  while (buffer_bytes_ > options_.max_bytes && !buffer_.empty()) {
    if (open_ && buffer_.front().sequence >= open_->first_sequence) {
      ++open_->lost;
      open_->first_sequence = buffer_.front().sequence + 1;
    }
    buffer_bytes_ -= buffer_.front().bytes;
    buffer_.pop_front();
  }
}

}  // namespace vhs
