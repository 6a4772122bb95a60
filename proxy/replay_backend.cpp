// Replay as the BACK-END towards a real front-end: listens, then walks the recorded session in
// order — each recorded front-end request is awaited and compared with what the front-end sends
// (matched by request code, with a look-ahead so one skipped or extra message does not derail the
// rest), each recorded answer is sent back with re-created fds, and each recorded back-end channel
// request is sent at its recorded place. A request the recording left unanswered stays
// unanswered, so a recorded hang is reproduced.
#include <poll.h>

#include <deque>
#include <map>
#include <set>
#include <thread>

#include <fmt/format.h>

#include "decoders/vhost_user/registry.hpp"
#include "proxy/replay_engine.hpp"
#include "proxy/sys_error.hpp"
#include "proxy/unix_socket.hpp"

namespace vhs {
namespace {

using Clock = ReplayLink::Clock;
using std::chrono::milliseconds;

class BackendReplay {
 public:
  explicit BackendReplay(ReplayRun& run) : r_(run) {}
  void run();

 private:
  bool accept_frontend();
  size_t expect_request(size_t pos);
  void accept(uint32_t e, ReplayMessage& m);
  void send_answer(uint32_t e);
  void send_backend_request(uint32_t e);
  void expect_frontend_close(uint32_t e);
  void end_of_recording();
  void answer_extra(ReplayMessage& m, const std::string& where);
  // Next message from the front-end's socket (queued ones first); back-end channel traffic that
  // arrives meanwhile is unexpected (the front-end only answers there).
  ReplayLink::Event next_request(Clock::time_point deadline, ReplayMessage& m, std::string& error);
  void lost(uint32_t e, const std::string& what);
  milliseconds budget_for(size_t pos) const;

  ReplayRun& r_;
  ListenSocket listen_;
  std::deque<ReplayMessage> queued_;  // front-end requests that came while we waited on the channel
  std::set<uint32_t> matched_;        // recorded requests the front-end sent
  std::map<uint32_t, Clock::time_point> matched_at_;
  std::map<uint32_t, bool> live_need_reply_;  // per matched request: NEED_REPLY as sent live
  std::vector<UniqueFd> kept_;                // fds the front-end passed (a back-end keeps them)
  bool stopped_ = false;
};

bool BackendReplay::accept_frontend() {
  std::string error;
  listen_ = ListenSocket::create(r_.opt.socket_path, error);
  if (!listen_.valid()) {
    r_.fail(error);
    return false;
  }
  r_.log(fmt::format("listening at {} for the front-end", r_.opt.socket_path));
  const auto deadline = Clock::now() + r_.opt.connect_timeout;
  while (true) {
    const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) {
      r_.fail(fmt::format("no front-end connected to {} within {}", r_.opt.socket_path,
                          seconds_text(r_.opt.connect_timeout)));
      return false;
    }
    pollfd p{listen_.fd(), POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left)) <= 0) continue;
    int err = 0;
    UniqueFd fd = accept_unix(listen_.fd(), err);
    if (fd) {
      r_.link.set_main(std::move(fd));
      listen_.close();  // one session per replay
      return true;
    }
    if (err != EAGAIN && err != EWOULDBLOCK && err != EINTR && err != ECONNABORTED) {
      r_.fail(sys_error("accept on", r_.opt.socket_path, err));
      return false;
    }
  }
}

void BackendReplay::run() {
  if (!accept_frontend()) return;
  r_.link.record_text(
      RecordKind::Connect, Channel::Frontend, Direction::ToBackend,
      fmt::format("replay of session {}: vhostscope as the back-end, listening at {}",
                  r_.session.id, r_.opt.socket_path));
  size_t pos = 0;
  bool ended = false;
  while (pos < r_.entries.size() && !stopped_) {
    const uint32_t e = r_.entries[pos];
    const StoreEntry& en = r_.store.entry(e);
    if (en.kind == RecordKind::Disconnect) {
      ++pos;
      if (en.channel != Channel::Frontend) continue;
      if (en.direction == Direction::ToBackend)
        expect_frontend_close(e);
      else
        r_.link.close_main("closed as in the recording");
      ended = true;
      break;
    }
    const bool fe = en.channel == Channel::Frontend;
    const bool request = !en.header.is_reply();
    if (fe && request) {
      pos = expect_request(pos);
      continue;
    }
    if (fe && !request) send_answer(e);
    if (!fe && request) send_backend_request(e);
    ++pos;  // back-end channel answers are taken by send_backend_request
  }
  if (!stopped_ && !ended) end_of_recording();
  r_.link.close_channel("replay finished");
  r_.link.close_main("replay finished");
}

milliseconds BackendReplay::budget_for(size_t pos) const {
  // A front-end's pauses depend on its guest (a TCG boot is slow): allow the recorded gap
  // before this request three times over, plus the reply timeout.
  const uint64_t now_ts = r_.store.entry(r_.entries[pos]).timestamp_ns;
  const uint64_t prev_ts = pos > 0 ? r_.store.entry(r_.entries[pos - 1]).timestamp_ns : now_ts;
  const uint64_t gap_ms = now_ts > prev_ts ? (now_ts - prev_ts) / 1'000'000 : 0;
  return r_.opt.reply_timeout + milliseconds(std::min<uint64_t>(gap_ms, 600'000) * 3);
}

ReplayLink::Event BackendReplay::next_request(Clock::time_point deadline, ReplayMessage& m,
                                              std::string& error) {
  if (!queued_.empty()) {
    m = std::move(queued_.front());
    queued_.pop_front();
    return ReplayLink::Event::Message;
  }
  while (true) {
    const auto ev = r_.link.next(deadline, m, error);
    if (ev == ReplayLink::Event::ChannelClosed) {
      r_.log("the front-end closed the back-end channel");
      continue;
    }
    if (ev == ReplayLink::Event::Message && m.channel == Channel::Backend) {
      Divergence d;
      d.kind = DivergenceKind::ExtraMessage;
      d.channel = Channel::Backend;
      d.message = r_.label(m);
      d.detail = "the front-end sent it on the back-end channel, where the recording has nothing";
      r_.diverge(std::move(d));
      continue;
    }
    return ev;
  }
}

void BackendReplay::lost(uint32_t e, const std::string& what) {
  Divergence d;
  d.kind = DivergenceKind::Disconnect;
  d.recorded_entry = e;
  d.message = r_.label(e);
  d.detail = what;
  r_.diverge(std::move(d));
  stopped_ = true;
}

size_t BackendReplay::expect_request(size_t pos) {
  const uint32_t e = r_.entries[pos];
  const uint32_t code = r_.store.entry(e).header.request;
  auto deadline = Clock::now() + budget_for(pos);
  while (true) {
    ReplayMessage m;
    std::string error;
    const auto ev = next_request(deadline, m, error);
    switch (ev) {
      case ReplayLink::Event::Timeout: {
        Divergence d;
        d.kind = DivergenceKind::MissingMessage;
        d.recorded_entry = e;
        d.message = r_.label(e);
        d.detail =
            fmt::format("the front-end did not send it within {}", seconds_text(budget_for(pos)));
        r_.diverge(std::move(d));
        stopped_ = true;
        return r_.entries.size();
      }
      case ReplayLink::Event::MainClosed:
        lost(e, "the front-end closed the connection; the recording goes on with this request");
        return r_.entries.size();
      case ReplayLink::Event::Failed: lost(e, error); return r_.entries.size();
      default: break;
    }
    const Header h = m.header();
    if (h.is_reply()) {
      Divergence d;
      d.kind = DivergenceKind::ExtraMessage;
      d.message = r_.label(m);
      d.detail = fmt::format("the front-end sent a reply on its own socket while #{} {} was due",
                             e + 1, r_.label(e));
      r_.diverge(std::move(d));
      continue;
    }
    if (h.request == code) {
      accept(e, m);
      return pos + 1;
    }
    // Skipped recorded requests? Look for this request code a little further on.
    constexpr size_t kLookahead = 32;
    size_t seen = 0;
    for (size_t q = pos + 1; q < r_.entries.size() && seen < kLookahead; ++q) {
      const StoreEntry& qe = r_.store.entry(r_.entries[q]);
      if (qe.kind != RecordKind::Message || qe.channel != Channel::Frontend || qe.header.is_reply())
        continue;
      ++seen;
      if (qe.header.request != h.request) continue;
      for (size_t s = pos; s < q; ++s) {
        const StoreEntry& se = r_.store.entry(r_.entries[s]);
        if (se.kind != RecordKind::Message || se.channel != Channel::Frontend ||
            se.header.is_reply())
          continue;
        Divergence d;
        d.kind = DivergenceKind::MissingMessage;
        d.recorded_entry = r_.entries[s];
        d.message = r_.label(r_.entries[s]);
        d.detail = fmt::format("the front-end did not send it (it sent {} next)", r_.label(m));
        r_.diverge(std::move(d));
      }
      accept(r_.entries[q], m);
      return q + 1;
    }
    answer_extra(m, fmt::format("where the recording has #{} {}", e + 1, r_.label(e)));
    if (stopped_) return r_.entries.size();
    deadline = Clock::now() + budget_for(pos);
  }
}

void BackendReplay::accept(uint32_t e, ReplayMessage& m) {
  r_.compare(e, m);
  matched_.insert(e);
  matched_at_[e] = Clock::now();
  live_need_reply_[e] = m.header().needs_reply();
  static const RequestInfo* set_backend_req = &request_info(FrontendRequest::SET_BACKEND_REQ_FD);
  const StoreEntry& en = r_.store.entry(e);
  for (size_t i = 0; i < m.fds.size(); ++i) {
    if (en.info == set_backend_req && m.fd_infos[i].kind == FdKind::Socket &&
        !r_.link.has_channel())
      r_.link.set_channel(std::move(m.fds[i]));
    else
      kept_.push_back(std::move(m.fds[i]));
  }
  if (en.peer != kNoEntry && en.peer > e) return;  // the recorded answer is sent at its place
  if (m.header().needs_reply() && en.info != nullptr &&
      en.info->reply == ReplyRule::AckIfNeedReply) {
    // The front-end asks for an ack the recording does not have: without one it would hang.
    r_.log(fmt::format("#{} {}: acked (the recording has no ack: NEED_REPLY differs)", e + 1,
                       r_.label(e)));
    std::string error;
    if (!r_.link.send(Channel::Frontend, ack_message(m.header().request), {}, r_.opt.reply_timeout,
                      error))
      lost(e, "could not ack: " + error);
    return;
  }
  if (answer_due(Channel::Frontend, m.bytes, r_.store.context(e)))
    r_.log(fmt::format("#{} {}: left unanswered, as in the recording", e + 1, r_.label(e)));
}

void BackendReplay::send_answer(uint32_t e) {
  const StoreEntry& en = r_.store.entry(e);
  const uint32_t request = en.peer;
  if (request == kNoEntry || !matched_.count(request)) return;  // its request never came
  if (en.role == MessageRole::Ack && !live_need_reply_[request]) {
    r_.log(fmt::format("#{} {}: not sent (the front-end did not ask for an ack this time)", e + 1,
                       r_.label(e)));
    return;
  }
  if (r_.opt.pace == ReplayPace::Recorded) {
    const uint64_t latency = en.timestamp_ns > r_.store.entry(request).timestamp_ns
                                 ? en.timestamp_ns - r_.store.entry(request).timestamp_ns
                                 : 0;
    std::this_thread::sleep_until(matched_at_[request] + std::chrono::nanoseconds(latency));
  }
  if (!r_.send_recorded(e, {})) stopped_ = true;
}

void BackendReplay::send_backend_request(uint32_t e) {
  if (!r_.link.has_channel()) {
    Divergence d;
    d.kind = DivergenceKind::MissingMessage;
    d.channel = Channel::Backend;
    d.recorded_entry = e;
    d.message = r_.label(e);
    d.detail = "not sent: the front-end set up no back-end channel";
    r_.diverge(std::move(d));
    return;
  }
  if (!r_.send_recorded(e, {})) {
    stopped_ = true;
    return;
  }
  const uint32_t answer = r_.store.entry(e).peer;
  if (answer == kNoEntry || answer < e) return;
  const uint32_t code = r_.store.entry(e).header.request;
  const auto deadline = Clock::now() + r_.opt.reply_timeout;
  while (true) {
    ReplayMessage m;
    std::string error;
    const auto ev = r_.link.next(deadline, m, error);
    if (ev == ReplayLink::Event::Timeout || ev == ReplayLink::Event::ChannelClosed) {
      Divergence d;
      d.kind = DivergenceKind::MissingReply;
      d.channel = Channel::Backend;
      d.recorded_entry = answer;
      d.message = r_.label(answer);
      d.detail =
          ev == ReplayLink::Event::Timeout
              ? fmt::format("no answer to #{} {} within {}", e + 1, r_.label(e),
                            seconds_text(r_.opt.reply_timeout))
              : std::string("the front-end closed the back-end channel instead of answering");
      r_.diverge(std::move(d));
      return;
    }
    if (ev == ReplayLink::Event::MainClosed || ev == ReplayLink::Event::Failed) {
      lost(e, ev == ReplayLink::Event::Failed ? error : "the front-end closed the connection");
      return;
    }
    if (m.channel == Channel::Frontend) {
      queued_.push_back(std::move(m));  // a request for later: the walk takes it in order
      continue;
    }
    const Header h = m.header();
    if (h.is_reply() && h.request == code) {
      r_.compare(answer, m);
      return;
    }
    Divergence d;
    d.kind = DivergenceKind::ExtraMessage;
    d.channel = Channel::Backend;
    d.message = r_.label(m);
    d.detail = fmt::format("while #{} {} waited for its answer", e + 1, r_.label(e));
    r_.diverge(std::move(d));
  }
}

void BackendReplay::answer_extra(ReplayMessage& m, const std::string& where) {
  Divergence d;
  d.kind = DivergenceKind::ExtraMessage;
  d.message = r_.label(m);
  d.detail = "the front-end sent it " + where;
  r_.diverge(std::move(d));
  for (auto& fd : m.fds) kept_.push_back(std::move(fd));
  const Header h = m.header();
  const DecodeContext ctx = r_.session.analyser.decode_context();
  if (!answer_due(Channel::Frontend, m.bytes, ctx)) return;
  // The recording's answer to the same request elsewhere is the most faithful stand-in.
  for (uint32_t e : r_.entries) {
    const StoreEntry& en = r_.store.entry(e);
    if (en.kind != RecordKind::Message || en.channel != Channel::Frontend || en.header.is_reply() ||
        en.header.request != h.request || en.peer == kNoEntry || en.peer < e)
      continue;
    if (r_.store.entry(en.peer).role == MessageRole::Ack && !h.needs_reply()) break;
    if (!r_.send_recorded(en.peer, {})) stopped_ = true;
    return;
  }
  std::string error;
  if (!r_.link.send(Channel::Frontend, synthesized_answer(Channel::Frontend, m.bytes, ctx), {},
                    r_.opt.reply_timeout, error)) {
    r_.log("cannot answer: " + error);
    stopped_ = true;
  }
}

void BackendReplay::expect_frontend_close(uint32_t e) {
  const auto deadline = Clock::now() + r_.opt.reply_timeout;
  while (!stopped_) {
    ReplayMessage m;
    std::string error;
    const auto ev = next_request(deadline, m, error);
    if (ev == ReplayLink::Event::MainClosed || ev == ReplayLink::Event::Failed)
      return;  // as recorded
    if (ev == ReplayLink::Event::Timeout) {
      Divergence d;
      d.kind = DivergenceKind::Disconnect;
      d.recorded_entry = e;
      d.message = "disconnect";
      d.detail = fmt::format(
          "the front-end closed the connection here in the recording; in the replay it stayed "
          "connected for {}",
          seconds_text(r_.opt.reply_timeout));
      r_.diverge(std::move(d));
      return;
    }
    answer_extra(m, "where the recording has it closing the connection");
  }
}

void BackendReplay::end_of_recording() {
  // The capture ends with the session still open: answer what else comes for one more timeout.
  r_.log("the recording ends here; serving extra requests until the front-end is quiet");
  auto deadline = Clock::now() + r_.opt.reply_timeout;
  while (!stopped_) {
    ReplayMessage m;
    std::string error;
    const auto ev = next_request(deadline, m, error);
    if (ev != ReplayLink::Event::Message) return;
    answer_extra(m, "after the end of the recording");
    deadline = Clock::now() + r_.opt.reply_timeout;
  }
}

}  // namespace

void replay_as_backend(ReplayRun& run) { BackendReplay(run).run(); }

}  // namespace vhs
