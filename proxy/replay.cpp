// Replay entry point and the helpers both roles share (see replay.hpp, replay_engine.hpp).
#include "proxy/replay.hpp"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "decoders/vhost_user/payloads.hpp"
#include "decoders/vhost_user/registry.hpp"
#include "proxy/exercise/message_build.hpp"
#include "proxy/replay_engine.hpp"

namespace vhs {
namespace {

std::string_view role_word(const DecodedMessage& d, MessageRole role) {
  if (!d.is_reply) return "request";
  return role == MessageRole::Ack ? "ack" : "reply";
}

const StoreSession* pick_session(const Store& store, uint32_t id, std::string& error) {
  if (id != 0) {
    if (const StoreSession* s = store.find_session(id)) return s;
    std::string ids;
    for (const StoreSession& s : store.sessions())
      ids += (ids.empty() ? "" : ", ") + std::to_string(s.id);
    error =
        fmt::format("the capture has no session {} (sessions: {})", id, ids.empty() ? "none" : ids);
    return nullptr;
  }
  for (const StoreSession& s : store.sessions())
    for (uint32_t i = s.first_entry; s.first_entry != kNoEntry && i <= s.last_entry; ++i)
      if (&store.session_of(i) == &s && store.entry(i).is_message()) return &s;
  error = "the capture has no vhost-user messages to replay";
  return nullptr;
}

}  // namespace

size_t ReplayResult::real_divergences() const {
  return static_cast<size_t>(std::count_if(divergences.begin(), divergences.end(),
                                           [](const Divergence& d) { return !d.expected(); }));
}

ReplayRun::ReplayRun(const Store& s, const StoreSession& sess, const ReplayOptions& o)
    : store(s),
      session(sess),
      opt(o),
      link(o.role == ReplayRole::Frontend ? Direction::ToBackend : Direction::ToFrontend, o.sink,
           1),
      fds(o.max_guest_memory) {
  for (uint32_t i = sess.first_entry; sess.first_entry != kNoEntry && i <= sess.last_entry; ++i) {
    if (&store.session_of(i) != &sess) continue;
    const StoreEntry& e = store.entry(i);
    if (e.kind == RecordKind::Disconnect) entries.push_back(i);
    if (!e.is_message()) continue;
    ++result.recorded_messages;
    // Only whole messages that reached the other side were part of the conversation.
    if (!e.header_complete || (e.record_flags & (kRecordIncomplete | kRecordNotRelayed))) continue;
    entries.push_back(i);
  }
  result.session = sess.id;
  result.status = ReplayStatus::Same;
}

void ReplayRun::log(std::string_view text) const {
  if (opt.log) opt.log(text);
}

void ReplayRun::fail(std::string error) {
  result.status = ReplayStatus::Failed;
  result.error = std::move(error);
}

void ReplayRun::diverge(Divergence d) {
  if (opt.log)
    for (const std::string& line : divergence_lines(d, true))
      log((d.expected() ? "note: " : "divergence: ") + line);
  if (!d.expected() && result.status == ReplayStatus::Same) result.status = ReplayStatus::Diverged;
  result.divergences.push_back(std::move(d));
}

std::string ReplayRun::label(uint32_t entry) const {
  const DecodedMessage d = store.decoded(entry);
  return fmt::format("{} {}", d.name(), role_word(d, store.entry(entry).role));
}

std::string ReplayRun::label(const ReplayMessage& m) const {
  const DecodedMessage d = decode_message(m.channel, m.bytes, m.fd_infos);
  const std::string_view name = d.info ? d.name() : std::string_view();
  const std::string shown =
      name.empty() ? fmt::format("Unknown ({})", d.header.request) : std::string(name);
  return fmt::format("{} {}", shown, d.is_reply ? "reply" : "request");
}

MessageView ReplayRun::recorded_view(uint32_t entry) const {
  return MessageView{store.entry(entry).channel, store.bytes(entry), store.fds(entry),
                     store.context(entry)};
}

bool ReplayRun::compare(uint32_t entry, const ReplayMessage& live) {
  const MessageView rec = recorded_view(entry);
  const MessageView now{live.channel, live.bytes, live.fd_infos, rec.context};
  CompareOptions options;
  // Front-end virtual addresses belong to one QEMU process (the back-end only uses them to
  // translate ring addresses through the same table), so a new process has new ones.
  options.addresses = AddressPolicy::ExpectUserspace;
  static const RequestInfo* get_vring_base = &request_info(FrontendRequest::GET_VRING_BASE);
  const StoreEntry& e = store.entry(entry);
  if (e.is_message() && e.info == get_vring_base && e.header.is_reply()) {
    // The replay never kicks the rings, so the back-end's position stays at SET_VRING_BASE.
    options.expected_paths = {"vring.num"};
    options.expected_reason = "ring progress is not replayed (no guest I/O)";
  }
  Divergence d;
  d.kind = DivergenceKind::ValueDiffers;
  d.recorded_entry = entry;
  d.channel = e.channel;
  d.message = label(entry);
  d.changes = compare_messages(rec, now, options);
  if (d.changes.empty()) return true;
  const bool real = !d.expected();
  diverge(std::move(d));
  return !real;
}

bool ReplayRun::send_recorded(uint32_t entry, std::span<const uint8_t> bytes,
                              UniqueFd* socket_end) {
  const StoreEntry& e = store.entry(entry);
  if (bytes.empty()) bytes = store.bytes(entry);
  ReplayFds::Prepared p = fds.prepare(store.decoded(entry), store.fds(entry));
  for (const std::string& note : p.notes)
    log(fmt::format("#{} {}: {}", entry + 1, label(entry), note));
  if (!p.error.empty()) {
    fail(fmt::format("cannot re-create the fds of #{} {}: {}", entry + 1, label(entry), p.error));
    return false;
  }
  std::string error;
  if (!link.send(e.channel, bytes, p.fds, opt.reply_timeout, error)) {
    Divergence d;
    d.kind = DivergenceKind::Disconnect;
    d.recorded_entry = entry;
    d.channel = e.channel;
    d.message = label(entry);
    d.detail = "could not be sent: " + error;
    diverge(std::move(d));
    return false;
  }
  if (socket_end != nullptr) *socket_end = std::move(p.socket_end);
  return true;
}

std::vector<uint8_t> ack_message(uint32_t request, uint64_t value) {
  return exercise::build_reply(request, exercise::encode_u64(value));
}

std::vector<uint8_t> synthesized_answer(Channel channel, std::span<const uint8_t> request,
                                        const DecodeContext& ctx) {
  if (!answer_due(channel, request, ctx)) return {};
  const Header h = *parse_header(request);
  const RequestInfo* info = find_request(channel, h.request);
  const bool intrinsic = info != nullptr && info->reply != ReplyRule::AckIfNeedReply;
  if (!intrinsic) return ack_message(h.request, 0);
  const std::span<const uint8_t> payload = request.subspan(std::min(request.size(), kHeaderSize));
  std::vector<uint8_t> body;
  switch (info->reply_payload) {
    case PayloadKind::None: break;
    case PayloadKind::VringState:  // same index, num 0
      body.assign(8, 0);
      std::memcpy(body.data(), payload.data(), std::min<size_t>(payload.size(), 4));
      break;
    case PayloadKind::Config:
    case PayloadKind::MemTable:
    case PayloadKind::SingleRegion:
    case PayloadKind::SharedObject:
    case PayloadKind::Opaque:
      body.assign(payload.begin(), payload.end());  // same size as asked (QEMU checks it)
      break;
    case PayloadKind::Inflight: {  // mmap_size 0: no buffer, no fd; queue geometry echoed
      body.assign(24, 0);
      if (payload.size() >= 20) std::memcpy(body.data() + 16, payload.data() + 16, 4);
      break;
    }
    case PayloadKind::ShmemConfig: body.assign(8, 0); break;
    case PayloadKind::DeviceStateResult: {  // success, no fd returned
      const uint64_t v = kDeviceStateNoFdFlag;
      body.resize(8);
      std::memcpy(body.data(), &v, 8);
      break;
    }
    default: body.assign(8, 0); break;
  }
  return exercise::build_reply(h.request, body);
}

ReplayResult run_replay(const Store& store, const ReplayOptions& options) {
  std::string error;
  const StoreSession* session = pick_session(store, options.session, error);
  if (session == nullptr) {
    ReplayResult r;
    r.status = ReplayStatus::Failed;
    r.error = error;
    return r;
  }
  ReplayRun run(store, *session, options);
  if (options.role == ReplayRole::Frontend)
    replay_as_frontend(run);
  else
    replay_as_backend(run);
  run.result.sent = run.link.sent();
  run.result.received = run.link.received();
  return std::move(run.result);
}

}  // namespace vhs
