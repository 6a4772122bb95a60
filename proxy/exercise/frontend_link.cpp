#include "proxy/exercise/frontend_link.hpp"

#include <sys/socket.h>

#include <cstring>
#include <thread>

#include <fmt/format.h>

#include "decoders/vhost_user/message.hpp"
#include "decoders/vhost_user/payload_layout.hpp"
#include "proxy/log_text.hpp"
#include "proxy/sys_error.hpp"

namespace vhs::exercise {

uint64_t Reply::u64() const { return read_slot(ByteReader(payload), layout::kU64); }

FrontendLink::FrontendLink(RecordSink* capture, std::chrono::milliseconds timeout)
    : counter_(capture), link_(Direction::ToBackend, &counter_, 1), timeout_(timeout) {}

bool FrontendLink::connect(const std::string& path, std::chrono::milliseconds wait,
                           std::string& error) {
  const auto deadline = Clock::now() + wait;
  while (true) {
    UniqueFd fd;
    int err = 0;
    switch (connect_unix(path, fd, err)) {
      case ConnectStatus::Connected:
        link_.set_main(std::move(fd));
        link_.record_text(RecordKind::Connect, Channel::Frontend, Direction::ToBackend,
                          "vhostscope exercise: the front-end, back-end at '" + path + "'");
        return true;
      case ConnectStatus::Failed: error = sys_error("connect to back-end", path, err); return false;
      case ConnectStatus::Retry:
        if (Clock::now() >= deadline) {
          error = fmt::format("{} (gave up after {})", sys_error("connect to back-end", path, err),
                              seconds_text(wait));
          return false;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        break;
    }
  }
}

bool FrontendLink::accept(const std::string& listen_path, std::chrono::milliseconds wait,
                          std::string& error) {
  if (!listener_.valid()) {
    listener_ = ListenSocket::create(listen_path, error);
    if (!listener_.valid()) return false;
  }
  const auto deadline = Clock::now() + wait;
  while (Clock::now() < deadline) {
    int err = 0;
    UniqueFd fd = accept_unix(listener_.fd(), err);
    if (fd) {
      link_.set_main(std::move(fd));
      link_.record_text(
          RecordKind::Connect, Channel::Frontend, Direction::ToBackend,
          "vhostscope exercise: the front-end, back-end connected on '" + listen_path + "'");
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  error = fmt::format("no back-end connected to '{}' within {}", listen_path, seconds_text(wait));
  return false;
}

void FrontendLink::disconnect(std::string_view reason) {
  link_.close_channel(reason);
  link_.close_main(reason);
}

Outcome<Reply> FrontendLink::call(FrontendRequest request, std::span<const uint8_t> payload,
                                  std::span<const int> fds) {
  const RequestInfo& info = request_info(request);
  const bool ask = info.reply == ReplyRule::AckIfNeedReply &&
                   has_feature(protocol_features_, ProtocolFeature::REPLY_ACK);
  return exchange(request, payload, fds, ask);
}

Outcome<Reply> FrontendLink::exchange(FrontendRequest request, std::span<const uint8_t> payload,
                                      std::span<const int> fds, bool ask_ack) {
  const RequestInfo& info = request_info(request);
  const Bytes bytes = build_request(request, payload, ask_ack);
  std::string error;
  if (!link_.send(Channel::Frontend, bytes, fds, timeout_, error))
    return Outcome<Reply>::fail(fmt::format("{}: {}", info.name, error));
  const uint64_t sent_record = records();
  DecodeContext ctx;
  ctx.protocol_features = protocol_features_;
  ctx.protocol_features_known = true;
  if (!answer_due(Channel::Frontend, bytes, ctx)) {
    service_backend_channel();
    return Outcome<Reply>::ok(Reply{});
  }
  const auto deadline = Clock::now() + timeout_;
  while (true) {
    ReplayMessage m;
    const auto ev = link_.next(deadline, m, error);
    switch (ev) {
      case ReplayLink::Event::Timeout:
        return Outcome<Reply>::fail(fmt::format("#{} {}: no reply within {}", sent_record,
                                                info.name, seconds_text(timeout_)));
      case ReplayLink::Event::MainClosed:
        return Outcome<Reply>::fail(
            fmt::format("#{} {}: the back-end closed the connection instead of replying",
                        sent_record, info.name));
      case ReplayLink::Event::ChannelClosed: continue;  // the main socket may still answer
      case ReplayLink::Event::Failed:
        return Outcome<Reply>::fail(fmt::format("#{} {}: {}", sent_record, info.name, error));
      case ReplayLink::Event::Message: break;
    }
    if (m.channel == Channel::Backend) {
      answer_backend(m);
      continue;
    }
    const Header h = m.header();
    const uint64_t at = records();
    if (!h.is_reply() || h.request != static_cast<uint32_t>(request))
      return Outcome<Reply>::fail(
          fmt::format("#{} {}: the back-end sent #{} {} instead of the reply", sent_record,
                      info.name, at, message_label(Channel::Frontend, h)));
    if (h.version() != kProtocolVersion)
      return Outcome<Reply>::fail(
          fmt::format("#{} {} reply: version {} in the flags, not 1", at, info.name, h.version()));
    Reply r;
    r.header = h;
    r.payload.assign(m.bytes.begin() + kHeaderSize, m.bytes.end());
    r.fds = std::move(m.fds);
    r.record = at;
    // The registry's reply kind: the intrinsic reply's, or Ack for the requests that answer
    // only NEED_REPLY (an answer is due here, so NEED_REPLY was set for those).
    const PayloadKind kind =
        reply_payload_for(info, static_cast<uint32_t>(r.payload.size()));
    const PayloadSizeRule rule = payload_size_rule(kind);
    if (!rule.accepts(r.payload.size()))
      return Outcome<Reply>::fail(fmt::format("#{} {} reply: payload of {} bytes, the spec says {}",
                                              at, info.name, r.payload.size(), rule.text()));
    if (kind == PayloadKind::Ack && r.u64() != 0)
      return Outcome<Reply>::fail(
          fmt::format("#{} {}: the back-end answered ack {} (failure)", at, info.name, r.u64()));
    return Outcome<Reply>::ok(std::move(r));
  }
}

Outcome<Reply> FrontendLink::open_backend_channel() {
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0)
    return Outcome<Reply>::fail(sys_error("create", "socketpair", errno));
  UniqueFd ours(pair[0]), theirs(pair[1]);
  link_.set_channel(std::move(ours));
  const int fd = theirs.get();
  return call(FrontendRequest::SET_BACKEND_REQ_FD, {}, std::span<const int>(&fd, 1));
}

void FrontendLink::service_backend_channel() {
  if (!link_.has_channel()) return;
  while (true) {
    ReplayMessage m;
    std::string error;
    const auto ev = link_.next(Clock::now(), m, error);
    if (ev != ReplayLink::Event::Message) return;
    if (m.channel == Channel::Backend)
      answer_backend(m);
    else
      link_.record_text(RecordKind::Error, Channel::Frontend, Direction::ToFrontend,
                        "vhostscope exercise: an unexpected message from the back-end (" +
                            message_label(Channel::Frontend, m.header()) + ")");
  }
}

void FrontendLink::answer_backend(const ReplayMessage& m) {
  const Header h = m.header();
  if (h.is_reply()) return;
  const RequestInfo* info = find_request(Channel::Backend, h.request);
  // Spec "Back-end message types": a request with an intrinsic reply always gets one; the rest
  // only with NEED_REPLY ("REPLY_ACK"). We have no shared objects to look up (non-zero: failure);
  // config changes, host notifiers and in-band calls are taken as they are (ack 0): the engine
  // re-reads what it needs and always kicks through the kick eventfd.
  const bool always = info && info->reply == ReplyRule::Always;
  if (!always && !h.needs_reply()) return;
  const uint64_t value = info && info->is(BackendRequest::BACKEND_SHARED_OBJECT_LOOKUP) ? 1 : 0;
  const Bytes reply = build_reply(h.request, encode_u64(value));
  std::string error;
  link_.send(Channel::Backend, reply, {}, timeout_, error);
}

void FrontendLink::record_ring_state(std::span<const uint8_t> encoded_snapshot) {
  Record r;
  r.kind = RecordKind::RingState;
  r.channel = Channel::Frontend;
  r.direction = Direction::ToBackend;
  r.session = 1;
  r.timestamp_ns = replay_now_ns();
  r.bytes.assign(encoded_snapshot.begin(), encoded_snapshot.end());
  counter_.on_record(r);
}

void FrontendLink::record_note(RecordKind kind, std::string_view text) {
  link_.record_text(kind, Channel::Frontend, Direction::ToBackend, text);
}

}  // namespace vhs::exercise
