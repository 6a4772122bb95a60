// `--interpose-notify` inside the relay: SET_VRING_KICK / CALL / ERR get an eventfd of the proxy
// in place of the front-end's, the proxy watches the writer's eventfd in its epoll loop and writes
// every notification on, recording it as a Notify record. Step debugging can hold a queue's kicks
// or calls (counted, not written on) and release them one at a time or all at once.
//
// Never losing a notification: the relay only ever adds to an eventfd's counter what it read from
// another; a source replaced while a queue runs (QEMU re-sets the call fd on irqfd changes) stays
// watched until the next swap or teardown; every source is drained before it is closed; held
// counts are written on before a pair is torn down (GET_VRING_BASE reply, reset).
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>

#include <algorithm>
#include <cstring>
#include <sstream>

#include "decoders/vhost_user/registry.hpp"
#include "proxy/fd_describe.hpp"
#include "proxy/relay_impl.hpp"
#include "proxy/sys_error.hpp"

namespace vhs {

namespace {

constexpr uint64_t kVringNoFd = 0x100;  // VHOST_USER_VRING_NOFD_MASK
constexpr uint64_t kVringIndexMask = 0xff;

uint32_t request_number_of(std::string_view name) {
  const RequestInfo* info = find_request_by_name(name);
  return info != nullptr && info->channel == Channel::Frontend ? info->number : UINT32_MAX;
}

// Token layout: bits 0-7 kTokNotify, 8-23 slot index * 2 + (1 for the retired source),
// 24-63 the slot's serial (events for fds of an earlier serial are stale).
uint64_t notify_token(uint64_t serial, uint32_t index, bool retired) {
  return (serial << 24) | (static_cast<uint64_t>(index * 2 + (retired ? 1 : 0)) << 8) | kTokNotify;
}

bool is_blocking(int fd) {
  int fl = ::fcntl(fd, F_GETFL);
  return fl >= 0 && !(fl & O_NONBLOCK);
}

}  // namespace

void Relay::Impl::notify_setup() {
  notify_requests[0] = request_number_of("SET_VRING_KICK");
  notify_requests[1] = request_number_of("SET_VRING_CALL");
  notify_requests[2] = request_number_of("SET_VRING_ERR");
  get_vring_base = request_number_of("GET_VRING_BASE");
  reset_owner = request_number_of("RESET_OWNER");
  reset_device = request_number_of("RESET_DEVICE");
  notify_record.kind = RecordKind::Notify;
  notify_record.channel = Channel::Frontend;
  notify_record.bytes.assign(kNotifyRecordLen, 0);
}

void Relay::Impl::notify_watch(uint32_t index, bool retired, bool on) {
  NotifySlot& slot = notify.at(index);
  const int fd = retired ? slot.retired.get() : slot.source.get();
  if (fd < 0) return;
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = notify_token(slot.serial, index, retired);
  // Explicit DEL: the front-end's kick fd shares its file description with the front-end, so
  // closing our copy would not end the registration.
  ::epoll_ctl(epoll.get(), on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, fd, on ? &ev : nullptr);
}

void Relay::Impl::notify_emit(uint32_t index, NotifyEvent event, uint64_t count,
                              std::span<const FdInfo> fds) {
  Record& r = notify_record;
  const NotifySource source = NotifyTable::source_of(index);
  r.direction = source == NotifySource::Kick ? Direction::ToBackend : Direction::ToFrontend;
  r.flags = 0;
  r.session = session;
  r.timestamp_ns = realtime_ns();
  r.fds.assign(fds.begin(), fds.end());
  NotifyRecord n{source, event, static_cast<uint16_t>(NotifyTable::queue_of(index)), count};
  encode_notify(n, std::span<uint8_t, kNotifyRecordLen>(r.bytes.data(), kNotifyRecordLen));
  // While a message is handled its own record goes first (on_message emits these after it).
  if (notify_defer)
    notify_pending.push_back(r);
  else
    emit(r);
}

void Relay::Impl::emit_notify_pending() {
  for (const Record& r : notify_pending) emit(r);
  notify_pending.clear();
}

void Relay::Impl::notify_forward(uint32_t index, uint64_t count) {
  NotifySlot& slot = notify.at(index);
  if (slot.hold) [[unlikely]] {
    if (slot.held == 0) slot.hold_order = ++hold_counter;
    slot.held += count;
    notify_emit(index, NotifyEvent::Held, count);
    return;
  }
  if (!signal_eventfd(slot.sink.get(), count))
    session_error(
        Channel::Frontend,
        NotifyTable::source_of(index) == NotifySource::Kick ? Direction::ToBackend
                                                            : Direction::ToFrontend,
        "cannot relay a " + std::string(notify_source_name(NotifyTable::source_of(index))) +
            " of queue " + std::to_string(NotifyTable::queue_of(index)) + ": " + errno_text(errno));
  slot.relayed += count;
  notify_emit(index, NotifyEvent::Relayed, count);
}

void Relay::Impl::notify_release(uint32_t index, uint64_t count) {
  NotifySlot& slot = notify.at(index);
  count = std::min(count, slot.held);
  if (count == 0) return;
  signal_eventfd(slot.sink.get(), count);
  slot.held -= count;
  slot.relayed += count;
  if (slot.held == 0) slot.hold_order = 0;
  notify_emit(index, NotifyEvent::Released, count);
}

void Relay::Impl::on_notify_event(uint64_t token) {
  const uint32_t field = static_cast<uint32_t>((token >> 8) & 0xffff);
  const uint32_t index = field / 2;
  const bool retired = (field & 1) != 0;
  NotifySlot* slot = notify.find(index);
  if (slot == nullptr || slot->serial != (token >> 24)) return;  // stale: the fd was replaced
  const uint64_t count = retired ? drain_eventfd(slot->retired.get(), slot->retired_blocking)
                                 : drain_eventfd(slot->source.get(), slot->source_blocking);
  if (count != 0) notify_forward(index, count);
}

// Drains a source that is about to go and forwards what it held.
void Relay::Impl::notify_drain(uint32_t index, bool retired) {
  NotifySlot& slot = notify.at(index);
  const uint64_t count = retired ? drain_eventfd(slot.retired.get(), slot.retired_blocking)
                                 : drain_eventfd(slot.source.get(), slot.source_blocking);
  if (count != 0 && slot.sink) notify_forward(index, count);
}

void Relay::Impl::notify_teardown(uint32_t index, bool deliver) {
  NotifySlot* slot = notify.find(index);
  if (slot == nullptr || !slot->interposed()) return;
  notify_watch(index, false, false);
  notify_watch(index, true, false);
  if (deliver) {
    notify_drain(index, true);
    notify_drain(index, false);
    notify_release(index, slot->held);
    notify_emit(index, NotifyEvent::Closed, 0);
  }
  slot->held = 0;
  slot->hold_order = 0;
  slot->source.reset();
  slot->sink.reset();
  slot->retired.reset();
  slot->serial = ++notify_serial;
}

void Relay::Impl::notify_end_session() {
  for (uint32_t i = 0; i < notify.size(); ++i) {
    notify_teardown(i, false);
    notify.at(i).relayed = 0;
  }
  notify_pending.clear();
}

bool Relay::Impl::notify_substitute(RelayFlow& flow) {
  const Header& h = flow.reader().header();
  const auto bytes = flow.reader().bytes();
  notify_defer = true;
  bool substituted = false;
  if (&flow == &to_front) {
    // GET_VRING_BASE answered: the back-end stopped the queue; its eventfds are done with. Torn
    // down before the reply moves on, so the front-end sees every last call first.
    if (h.is_reply() && h.request == get_vring_base && bytes.size() >= kHeaderSize + 4) {
      uint32_t queue;
      std::memcpy(&queue, bytes.data() + kHeaderSize, sizeof queue);
      if (queue < kNotifyMaxQueues)
        for (uint32_t s = 0; s < kNotifySources; ++s)
          notify_teardown(NotifyTable::index(queue, static_cast<NotifySource>(s)), true);
    }
  } else if (&flow == &to_back && !h.is_reply()) {
    if (h.request == reset_owner || h.request == reset_device) {
      for (uint32_t i = 0; i < notify.size(); ++i) notify_teardown(i, true);
    } else {
      uint32_t s = 0;
      while (s < kNotifySources && notify_requests[s] != h.request) ++s;
      if (s < kNotifySources && bytes.size() >= kHeaderSize + 8)
        substituted = notify_interpose(flow, static_cast<NotifySource>(s));
    }
  }
  notify_defer = false;
  return substituted;
}

bool Relay::Impl::notify_interpose(RelayFlow& flow, NotifySource source) {
  uint64_t raw;
  std::memcpy(&raw, flow.reader().bytes().data() + kHeaderSize, sizeof raw);
  const uint32_t index = NotifyTable::index(static_cast<uint32_t>(raw & kVringIndexMask), source);
  // Polling (NOFD) or not one eventfd: nothing to interpose; a previous pair of this queue ends.
  if ((raw & kVringNoFd) || flow.reader().fds().size() != 1 ||
      flow.record().fds[0].kind != FdKind::Eventfd) {
    notify_teardown(index, true);
    return false;
  }
  const int frontend_fd = flow.reader().fds()[0];
  UniqueFd ours(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  UniqueFd theirs(ours ? ::fcntl(ours.get(), F_DUPFD_CLOEXEC, 0) : -1);
  if (!theirs) {
    session_error(Channel::Frontend, Direction::ToBackend,
                  "cannot create an eventfd to interpose " +
                      std::string(notify_source_name(source)) + " of queue " +
                      std::to_string(NotifyTable::queue_of(index)) + " (" + errno_text(errno) +
                      "); relaying it unchanged");
    notify_teardown(index, true);
    return false;
  }
  // The back-end's copy behaves like the fd the front-end sent (blocking or not); it shares our
  // file description, so when blocking, reads of our own copy check readiness first.
  const bool blocking = is_blocking(frontend_fd);
  if (blocking) ::fcntl(ours.get(), F_SETFL, ::fcntl(ours.get(), F_GETFL) & ~O_NONBLOCK);

  NotifySlot& slot = notify.at(index);
  UniqueFd new_frontend(flow.reader().take_fd(0));
  notify_watch(index, false, false);
  notify_watch(index, true, false);
  UniqueFd old_retired = std::move(slot.retired);
  UniqueFd old_source = std::move(slot.source);
  const bool old_retired_blocking = slot.retired_blocking,
             old_source_blocking = slot.source_blocking;
  FdInfo fds[2] = {flow.record().fds[0], {}};
  describe_fd(theirs.get(), fds[1]);
  // A swap: the old source stays watched (retired) until the next swap or teardown. Should it be
  // the very same eventfd again, the two registrations only race for one counter: whichever reads
  // second finds it empty (readiness is checked first for blocking fds), nothing is lost.
  if (old_source) notify_emit(index, NotifyEvent::Closed, 0);
  if (source == NotifySource::Kick) {
    slot.source = std::move(new_frontend);
    slot.sink = std::move(ours);
  } else {
    slot.source = std::move(ours);
    slot.sink = std::move(new_frontend);
  }
  slot.source_blocking = blocking;
  slot.retired = std::move(old_source);
  slot.retired_blocking = old_source_blocking;
  slot.serial = ++notify_serial;
  notify_watch(index, false, true);
  notify_watch(index, true, true);
  notify_emit(index, NotifyEvent::Interposed, 0, fds);
  // What the source that goes now still holds goes to the new sink: the one the reader uses next.
  if (uint64_t n = drain_eventfd(old_retired.get(), old_retired_blocking)) notify_forward(index, n);
  flow.begin_send(0, std::move(theirs));
  return true;
}

// ---------------------------------------------------------------- step debugging

std::string Relay::Impl::notify_command(std::string_view verb, std::string_view arg) {
  if (!opt.interpose_notify)
    return "error: holding notifications needs 'record --interpose-notify'\n";
  const std::string_view name = arg.substr(0, arg.find(' '));
  std::string_view queue_text =
      name.size() < arg.size() ? arg.substr(name.size() + 1) : std::string_view();
  while (!queue_text.empty() && queue_text.front() == ' ') queue_text.remove_prefix(1);
  const auto source = notify_source_from_name(name);
  uint32_t queue = 0;
  bool queue_ok = !queue_text.empty() && queue_text.size() <= 3;
  for (char c : queue_text) {
    queue_ok = queue_ok && c >= '0' && c <= '9';
    if (queue_ok) queue = queue * 10 + static_cast<uint32_t>(c - '0');
  }
  if (!source || !queue_ok || queue >= kNotifyMaxQueues)
    return "error: '" + std::string(verb) +
           "' needs kick, call or err and a queue index 0-255 (e.g. '" + std::string(verb) +
           " kick 0')\n";
  const uint32_t index = NotifyTable::index(queue, *source);
  NotifySlot& slot = notify.at(index);
  if (verb == "hold") {
    slot.hold = true;
    return "ok\n";
  }
  if (!slot.hold)
    return "error: " + std::string(name) + " notifications of queue " + std::to_string(queue) +
           " are not held\n";
  slot.hold = false;
  notify_release(index, slot.held);
  return "ok\n";
}

bool Relay::Impl::notify_step(uint64_t older_than) {
  uint32_t best = UINT32_MAX;
  for (uint32_t i = 0; i < notify.size(); ++i) {
    const NotifySlot& s = *notify.find(i);
    if (s.held > 0 && s.hold_order < older_than &&
        (best == UINT32_MAX || s.hold_order < notify.find(best)->hold_order))
      best = i;
  }
  if (best == UINT32_MAX) return false;
  notify_release(best, 1);
  return true;
}

void Relay::Impl::notify_continue() {
  for (uint32_t i = 0; i < notify.size(); ++i) notify_release(i, notify.find(i)->held);
}

std::string Relay::Impl::notify_status() {
  std::vector<uint32_t> held;
  for (uint32_t i = 0; i < notify.size(); ++i)
    if (notify.find(i)->held > 0) held.push_back(i);
  std::sort(held.begin(), held.end(), [this](uint32_t a, uint32_t b) {
    return notify.find(a)->hold_order < notify.find(b)->hold_order;
  });
  std::ostringstream out;
  for (uint32_t i : held)
    out << "held: session " << session << ", queue " << NotifyTable::queue_of(i) << " "
        << notify_source_name(NotifyTable::source_of(i)) << ", " << notify.find(i)->held
        << " notifications\n";
  return out.str();
}

std::string Relay::Impl::notify_holds_line() {
  std::string s;
  for (uint32_t i = 0; i < notify.size(); ++i) {
    if (!notify.find(i)->hold) continue;
    s += s.empty() ? "" : ", ";
    s += std::string(notify_source_name(NotifyTable::source_of(i))) + " " +
         std::to_string(NotifyTable::queue_of(i));
  }
  return "notify holds: " + (s.empty() ? std::string("none") : s) + "\n";
}

}  // namespace vhs
