// Replay as the FRONT-END towards a real back-end: sends the recorded front-end requests in
// order with re-created fds, waits for an answer wherever the recording had one (or one is due),
// answers the back-end's requests on the back-end channel like the recording did, and compares
// every answer and back-end request with its recorded counterpart.
#include <cstring>
#include <optional>
#include <thread>

#include <fmt/format.h>

#include "decoders/vhost_user/registry.hpp"
#include "proxy/replay_engine.hpp"
#include "proxy/sys_error.hpp"
#include "proxy/unix_socket.hpp"

namespace vhs {
namespace {

using Clock = ReplayLink::Clock;

class FrontendReplay {
 public:
  explicit FrontendReplay(ReplayRun& run) : r_(run) {}
  void run();

 private:
  bool connect();
  void step_request(uint32_t e);
  void wait_answer(uint32_t request, uint32_t recorded_answer);
  void on_backend_channel(ReplayMessage& m);
  void answer_backend_request(uint32_t recorded, const ReplayMessage& m);
  void expect_backend_close(uint32_t disconnect_entry);
  void await_backend_requests();
  void unexpected(const ReplayMessage& m, const std::string& why);
  void lost_connection(uint32_t entry, const std::string& what);
  void pace(uint32_t e);
  void handle_event_on_wait(ReplayLink::Event ev, uint32_t entry, const std::string& error);

  ReplayRun& r_;
  std::vector<uint32_t> be_expected_;  // recorded back-end channel requests, in order
  size_t be_next_ = 0;
  bool stopped_ = false;
  uint64_t first_ts_ = 0;
  Clock::time_point start_;
  std::optional<InflightValue> inflight_;  // the replayed GET_INFLIGHT_FD answer
};

bool FrontendReplay::connect() {
  const auto deadline = Clock::now() + r_.opt.connect_timeout;
  while (true) {
    UniqueFd fd;
    int err = 0;
    switch (connect_unix(r_.opt.socket_path, fd, err)) {
      case ConnectStatus::Connected: r_.link.set_main(std::move(fd)); return true;
      case ConnectStatus::Failed:
        r_.fail(sys_error("connect to back-end", r_.opt.socket_path, err));
        return false;
      case ConnectStatus::Retry:
        if (Clock::now() >= deadline) {
          r_.fail(fmt::format("{} (gave up after {})",
                              sys_error("connect to back-end", r_.opt.socket_path, err),
                              seconds_text(r_.opt.connect_timeout)));
          return false;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        break;
    }
  }
}

void FrontendReplay::run() {
  if (!connect()) return;
  r_.link.record_text(
      RecordKind::Connect, Channel::Frontend, Direction::ToBackend,
      fmt::format("replay of session {}: vhostscope as the front-end, back-end at {}",
                  r_.session.id, r_.opt.socket_path));
  for (uint32_t e : r_.entries) {
    const StoreEntry& en = r_.store.entry(e);
    if (en.is_message() && en.channel == Channel::Backend &&
        en.direction == Direction::ToFrontend && !en.header.is_reply())
      be_expected_.push_back(e);
  }

  for (uint32_t e : r_.entries) {
    if (stopped_) break;
    const StoreEntry& en = r_.store.entry(e);
    if (en.kind == RecordKind::Disconnect) {
      if (en.channel != Channel::Frontend)
        continue;  // the back-end channel closing follows the socket
      if (en.direction == Direction::ToFrontend) expect_backend_close(e);
      break;  // the recorded session ends here
    }
    if (en.channel == Channel::Frontend && en.direction == Direction::ToBackend &&
        !en.header.is_reply())
      step_request(e);
    // Answers and back-end channel traffic are handled as they arrive.
  }
  if (!stopped_) await_backend_requests();
  r_.link.close_channel("replay finished");
  r_.link.close_main("replay finished");
}

void FrontendReplay::pace(uint32_t e) {
  if (r_.opt.pace != ReplayPace::Recorded) return;
  const uint64_t ts = r_.store.entry(e).timestamp_ns;
  if (first_ts_ == 0) {
    first_ts_ = ts;
    start_ = Clock::now();
    return;
  }
  if (ts > first_ts_)
    std::this_thread::sleep_until(start_ + std::chrono::nanoseconds(ts - first_ts_));
}

void FrontendReplay::step_request(uint32_t e) {
  pace(e);
  const StoreEntry& en = r_.store.entry(e);
  std::span<const uint8_t> bytes = r_.store.bytes(e);
  std::vector<uint8_t> patched;
  static const RequestInfo* set_inflight = &request_info(FrontendRequest::SET_INFLIGHT_FD);
  static const RequestInfo* set_backend_req = &request_info(FrontendRequest::SET_BACKEND_REQ_FD);
  if (en.info == set_inflight && inflight_ && bytes.size() >= kHeaderSize + 16) {
    // QEMU hands back the buffer description it got; the replayed back-end's may differ.
    patched.assign(bytes.begin(), bytes.end());
    std::memcpy(patched.data() + kHeaderSize, &inflight_->mmap_size, 8);
    std::memcpy(patched.data() + kHeaderSize + 8, &inflight_->mmap_offset, 8);
    bytes = patched;
  }
  UniqueFd socket_end;
  if (!r_.send_recorded(e, bytes, &socket_end)) {
    stopped_ = true;
    return;
  }
  if (en.info == set_backend_req && socket_end) r_.link.set_channel(std::move(socket_end));

  const uint32_t recorded_answer =
      en.role == MessageRole::Request && en.peer != kNoEntry && en.peer > e ? en.peer : kNoEntry;
  const bool due = en.expects == ReplyExpectation::Reply || en.expects == ReplyExpectation::Ack;
  if (recorded_answer != kNoEntry || due) {
    wait_answer(e, recorded_answer);
    return;
  }
  // Nothing to wait for; still take in whatever already arrived (back-end channel requests).
  ReplayMessage m;
  std::string error;
  const auto ev = r_.link.next(Clock::now(), m, error);
  if (ev == ReplayLink::Event::Message) {
    if (m.channel == Channel::Backend)
      on_backend_channel(m);
    else
      unexpected(m, fmt::format("after #{} {}, which has no answer", e + 1, r_.label(e)));
  } else if (ev != ReplayLink::Event::Timeout) {
    handle_event_on_wait(ev, e, error);
  }
}

void FrontendReplay::wait_answer(uint32_t request, uint32_t recorded_answer) {
  const uint32_t code = r_.store.entry(request).header.request;
  const auto deadline = Clock::now() + r_.opt.reply_timeout;
  while (!stopped_) {
    ReplayMessage m;
    std::string error;
    const auto ev = r_.link.next(deadline, m, error);
    if (ev == ReplayLink::Event::Timeout) {
      if (recorded_answer != kNoEntry) {
        Divergence d;
        d.kind = DivergenceKind::MissingReply;
        d.recorded_entry = recorded_answer;
        d.message = r_.label(recorded_answer);
        d.detail = fmt::format("no answer to #{} {} within {}", request + 1, r_.label(request),
                               seconds_text(r_.opt.reply_timeout));
        r_.diverge(std::move(d));
      } else {
        r_.log(fmt::format("#{} {}: still unanswered after {}, as in the recording", request + 1,
                           r_.label(request), seconds_text(r_.opt.reply_timeout)));
      }
      return;
    }
    if (ev != ReplayLink::Event::Message) {
      handle_event_on_wait(ev, request, error);
      continue;
    }
    if (m.channel == Channel::Backend) {
      on_backend_channel(m);
      continue;
    }
    const Header h = m.header();
    if (!h.is_reply() || h.request != code) {
      unexpected(m,
                 fmt::format("while #{} {} waited for its answer", request + 1, r_.label(request)));
      continue;
    }
    if (recorded_answer == kNoEntry) {
      Divergence d;
      d.kind = DivergenceKind::ExtraMessage;
      d.recorded_entry = request;
      d.message = r_.label(m);
      d.detail = fmt::format("the back-end answered #{} {}; the recording has no answer",
                             request + 1, r_.label(request));
      r_.diverge(std::move(d));
      return;
    }
    r_.compare(recorded_answer, m);
    const DecodedMessage live =
        decode_message(m.channel, m.bytes, m.fd_infos, r_.store.context(recorded_answer));
    if (const auto* inflight = std::get_if<InflightValue>(&live.payload)) inflight_ = *inflight;
    // Fds that came back stand for the recorded ones from now on (the inflight buffer).
    const auto recorded_fds = r_.store.fds(recorded_answer);
    for (size_t i = 0; i < m.fds.size() && i < recorded_fds.size(); ++i)
      r_.fds.adopt(recorded_fds[i], std::move(m.fds[i]));
    return;
  }
}

void FrontendReplay::handle_event_on_wait(ReplayLink::Event ev, uint32_t entry,
                                          const std::string& error) {
  switch (ev) {
    case ReplayLink::Event::ChannelClosed:
      r_.log("the back-end closed the back-end channel");
      if (be_next_ < be_expected_.size()) {
        Divergence d;
        d.kind = DivergenceKind::Disconnect;
        d.channel = Channel::Backend;
        d.recorded_entry = be_expected_[be_next_];
        d.message = r_.label(be_expected_[be_next_]);
        d.detail = "the back-end closed the back-end channel before sending it";
        r_.diverge(std::move(d));
        be_next_ = be_expected_.size();
      }
      break;
    case ReplayLink::Event::MainClosed:
      lost_connection(entry, "the back-end closed the connection");
      break;
    case ReplayLink::Event::Failed: lost_connection(entry, error); break;
    default: break;
  }
}

void FrontendReplay::lost_connection(uint32_t entry, const std::string& what) {
  Divergence d;
  d.kind = DivergenceKind::Disconnect;
  d.recorded_entry = entry;
  d.message = r_.label(entry);
  d.detail = fmt::format("{} after #{} {} was sent; the recording goes on", what, entry + 1,
                         r_.label(entry));
  r_.diverge(std::move(d));
  stopped_ = true;
}

void FrontendReplay::unexpected(const ReplayMessage& m, const std::string& why) {
  Divergence d;
  d.kind = DivergenceKind::ExtraMessage;
  d.channel = m.channel;
  d.message = r_.label(m);
  d.detail = "the back-end sent it " + why + "; the recording has nothing there";
  r_.diverge(std::move(d));
}

void FrontendReplay::on_backend_channel(ReplayMessage& m) {
  const Header h = m.header();
  if (h.is_reply()) {
    unexpected(m, "on the back-end channel, where only the back-end asks");
    return;
  }
  // The back-end's requests are asynchronous to ours: match them in their own order, allowing a
  // few recorded ones to be skipped.
  constexpr size_t kLookahead = 16;
  for (size_t k = be_next_; k < be_expected_.size() && k < be_next_ + kLookahead; ++k) {
    if (r_.store.entry(be_expected_[k]).header.request != h.request) continue;
    for (size_t j = be_next_; j < k; ++j) {
      Divergence d;
      d.kind = DivergenceKind::MissingMessage;
      d.channel = Channel::Backend;
      d.recorded_entry = be_expected_[j];
      d.message = r_.label(be_expected_[j]);
      d.detail = fmt::format("the back-end did not send it (it sent {} next)", r_.label(m));
      r_.diverge(std::move(d));
    }
    be_next_ = k + 1;
    r_.compare(be_expected_[k], m);
    answer_backend_request(be_expected_[k], m);
    return;
  }
  unexpected(m, "on the back-end channel");
  answer_backend_request(kNoEntry, m);
}

void FrontendReplay::answer_backend_request(uint32_t recorded, const ReplayMessage& m) {
  const DecodeContext ctx =
      recorded != kNoEntry ? r_.store.context(recorded) : r_.session.analyser.decode_context();
  if (!answer_due(Channel::Backend, m.bytes, ctx)) return;
  const uint32_t answer = recorded != kNoEntry ? r_.store.entry(recorded).peer : kNoEntry;
  if (answer != kNoEntry && answer > recorded) {
    if (!r_.send_recorded(answer, {})) stopped_ = true;
    return;
  }
  std::string error;
  if (!r_.link.send(Channel::Backend, synthesized_answer(Channel::Backend, m.bytes, ctx), {},
                    r_.opt.reply_timeout, error))
    r_.log("cannot answer on the back-end channel: " + error);
}

void FrontendReplay::expect_backend_close(uint32_t disconnect_entry) {
  const auto deadline = Clock::now() + r_.opt.reply_timeout;
  while (true) {
    ReplayMessage m;
    std::string error;
    const auto ev = r_.link.next(deadline, m, error);
    if (ev == ReplayLink::Event::MainClosed || ev == ReplayLink::Event::Failed)
      return;  // as recorded
    if (ev == ReplayLink::Event::Message) {
      if (m.channel == Channel::Backend)
        on_backend_channel(m);
      else
        unexpected(m, "where the recording has it closing the connection");
      continue;
    }
    if (ev == ReplayLink::Event::Timeout) {
      Divergence d;
      d.kind = DivergenceKind::Disconnect;
      d.recorded_entry = disconnect_entry;
      d.message = "disconnect";
      d.detail = fmt::format(
          "the back-end closed the connection here in the recording; in the replay it stayed open "
          "for {}",
          seconds_text(r_.opt.reply_timeout));
      r_.diverge(std::move(d));
      return;
    }
  }
}

void FrontendReplay::await_backend_requests() {
  // Back-end requests the recording has but that have not come yet get one more timeout; without
  // any, only what already arrived is taken in.
  const bool waiting = be_next_ < be_expected_.size();
  const auto deadline =
      Clock::now() + (waiting ? r_.opt.reply_timeout : std::chrono::milliseconds(20));
  while (!stopped_ && !(waiting && be_next_ >= be_expected_.size())) {
    ReplayMessage m;
    std::string error;
    const auto ev = r_.link.next(deadline, m, error);
    if (ev != ReplayLink::Event::Message) break;
    if (m.channel == Channel::Backend)
      on_backend_channel(m);
    else
      unexpected(m, "after the last recorded request");
  }
  for (; be_next_ < be_expected_.size(); ++be_next_) {
    Divergence d;
    d.kind = DivergenceKind::MissingMessage;
    d.channel = Channel::Backend;
    d.recorded_entry = be_expected_[be_next_];
    d.message = r_.label(be_expected_[be_next_]);
    d.detail = "the back-end never sent it";
    r_.diverge(std::move(d));
  }
}

}  // namespace

void replay_as_frontend(ReplayRun& run) { FrontendReplay(run).run(); }

}  // namespace vhs
