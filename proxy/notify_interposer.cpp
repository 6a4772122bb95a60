// Notification interposer part of the relay (see notify_interposer.hpp).
//
// Never losing a notification: the relay only ever adds to an eventfd's counter what it read from
// another; a source replaced while a queue runs (QEMU re-sets the call fd on irqfd changes) stays
// watched until the next swap or teardown; every source is drained before it is closed; held
// counts are written on before a pair is torn down (GET_VRING_BASE reply, reset).
#include "proxy/notify_interposer.hpp"

#include <fcntl.h>
#include <sys/eventfd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <sstream>
#include <vector>

#include "decoders/vhost_user/payloads.hpp"
#include "decoders/vhost_user/registry.hpp"
#include "proxy/fd_describe.hpp"
#include "proxy/notify_relay.hpp"
#include "proxy/relay_flow.hpp"
#include "proxy/sys_error.hpp"

namespace vhs {

namespace {

constexpr uint32_t number_of(FrontendRequest r) { return static_cast<uint32_t>(r); }

// The request that hands over each source's eventfd, in NotifySource order.
constexpr std::array<uint32_t, kNotifySources> kSourceRequests = {
    number_of(FrontendRequest::SET_VRING_KICK), number_of(FrontendRequest::SET_VRING_CALL),
    number_of(FrontendRequest::SET_VRING_ERR)};

// Cookie layout: bits 0-15 slot index * 2 + (1 for the retired source), the rest the low bits of
// the slot's serial (events for fds of an earlier serial are stale; a wrap-around would need 2^24
// fd changes between an event and its dispatch).
constexpr uint64_t kSerialMask = (uint64_t{1} << (RelayServices::kCookieBits - 16)) - 1;

uint64_t notify_cookie(uint64_t serial, uint32_t index, bool retired) {
  return ((serial & kSerialMask) << 16) | static_cast<uint64_t>(index * 2 + (retired ? 1 : 0));
}

bool is_blocking(int fd) {
  int fl = ::fcntl(fd, F_GETFL);
  return fl >= 0 && !(fl & O_NONBLOCK);
}

Direction direction_of(NotifySource source) {
  return source == NotifySource::Kick ? Direction::ToBackend : Direction::ToFrontend;
}

class NotifyPart final : public NotifyInterposer, public NotifyHolds, private FdHandler {
 public:
  NotifyPart(RelayServices& relay, std::function<void(uint32_t)> before_forward)
      : relay_(relay), before_forward_(std::move(before_forward)) {
    record_.kind = RecordKind::Notify;
    record_.channel = Channel::Frontend;
    record_.bytes.assign(kNotifyRecordLen, 0);
  }

  // ------------------------------------------------------------ core events

  bool on_message(RelayFlow& flow) override {
    if (flow.channel() != Channel::Frontend) return false;
    const Header& h = flow.reader().header();
    const auto bytes = flow.reader().bytes();
    defer_ = true;
    bool substituted = false;
    if (flow.direction() == Direction::ToFrontend) {
      // GET_VRING_BASE answered: the back-end stopped the queue (spec "Ring states"); its
      // eventfds are done with. Torn down before the reply moves on, so the front-end sees every
      // last call first.
      if (h.is_reply() && h.request == number_of(FrontendRequest::GET_VRING_BASE) &&
          bytes.size() >= kHeaderSize + 4) {
        uint32_t queue;
        std::memcpy(&queue, bytes.data() + kHeaderSize, sizeof queue);
        if (queue < kNotifyMaxQueues)
          for (uint32_t s = 0; s < kNotifySources; ++s)
            teardown(NotifyTable::index(queue, static_cast<NotifySource>(s)), true);
      }
    } else if (!h.is_reply()) {
      if (h.request == number_of(FrontendRequest::RESET_OWNER) ||
          h.request == number_of(FrontendRequest::RESET_DEVICE)) {
        for (uint32_t i = 0; i < table_.size(); ++i) teardown(i, true);
      } else {
        uint32_t s = 0;
        while (s < kNotifySources && kSourceRequests[s] != h.request) ++s;
        if (s < kNotifySources && bytes.size() >= kHeaderSize + 8)
          substituted = interpose(flow, static_cast<NotifySource>(s));
      }
    }
    defer_ = false;
    return substituted;
  }

  void emit_deferred() override {
    for (const Record& r : pending_) relay_.emit(r);
    pending_.clear();
  }

  void on_session_end() override {
    for (uint32_t i = 0; i < table_.size(); ++i) {
      teardown(i, false);
      table_.at(i).relayed = 0;
    }
    pending_.clear();
  }

  NotifyHolds& holds() override { return *this; }

  // ------------------------------------------------------------ step debugging

  std::string command(std::string_view verb, std::string_view arg) override {
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
    NotifySlot& slot = table_.at(index);
    if (verb == "hold") {
      slot.hold = true;
      return "ok\n";
    }
    if (!slot.hold)
      return "error: " + std::string(name) + " notifications of queue " + std::to_string(queue) +
             " are not held\n";
    slot.hold = false;
    release(index, slot.held);
    return "ok\n";
  }

  bool step(uint64_t older_than) override {
    uint32_t best = UINT32_MAX;
    for (uint32_t i = 0; i < table_.size(); ++i) {
      const NotifySlot& s = *table_.find(i);
      if (s.held > 0 && s.hold_order < older_than &&
          (best == UINT32_MAX || s.hold_order < table_.find(best)->hold_order))
        best = i;
    }
    if (best == UINT32_MAX) return false;
    release(best, 1);
    return true;
  }

  void release_all() override {
    for (uint32_t i = 0; i < table_.size(); ++i) release(i, table_.find(i)->held);
  }

  std::string held_lines() override {
    std::vector<uint32_t> held;
    for (uint32_t i = 0; i < table_.size(); ++i)
      if (table_.find(i)->held > 0) held.push_back(i);
    std::sort(held.begin(), held.end(), [this](uint32_t a, uint32_t b) {
      return table_.find(a)->hold_order < table_.find(b)->hold_order;
    });
    std::ostringstream out;
    for (uint32_t i : held)
      out << "held: session " << relay_.session() << ", queue " << NotifyTable::queue_of(i) << " "
          << notify_source_name(NotifyTable::source_of(i)) << ", " << table_.find(i)->held
          << " notifications\n";
    return out.str();
  }

  std::string holds_line() override {
    std::string s;
    for (uint32_t i = 0; i < table_.size(); ++i) {
      if (!table_.find(i)->hold) continue;
      s += s.empty() ? "" : ", ";
      s += std::string(notify_source_name(NotifyTable::source_of(i))) + " " +
           std::to_string(NotifyTable::queue_of(i));
    }
    return "notify holds: " + (s.empty() ? std::string("none") : s) + "\n";
  }

 private:
  // An interposed eventfd became readable.
  void on_ready(uint64_t cookie) override {
    const uint32_t field = static_cast<uint32_t>(cookie & 0xffff);
    const uint32_t index = field / 2;
    const bool retired = (field & 1) != 0;
    NotifySlot* slot = table_.find(index);
    if (slot == nullptr || (slot->serial & kSerialMask) != (cookie >> 16))
      return;  // stale: the fd was replaced
    const uint64_t count = retired ? drain_eventfd(slot->retired.get(), slot->retired_blocking)
                                   : drain_eventfd(slot->source.get(), slot->source_blocking);
    if (count != 0) forward(index, count);
  }

  void watch(uint32_t index, bool retired, bool on) {
    NotifySlot& slot = table_.at(index);
    const int fd = retired ? slot.retired.get() : slot.source.get();
    if (fd < 0) return;
    // Explicit unwatch: the front-end's kick fd shares its file description with the front-end,
    // so closing our copy would not end the registration.
    if (on)
      relay_.watch(fd, *this, notify_cookie(slot.serial, index, retired));
    else
      relay_.unwatch(fd);
  }

  void emit(uint32_t index, NotifyEvent event, uint64_t count, std::span<const FdInfo> fds = {}) {
    Record& r = record_;
    const NotifySource source = NotifyTable::source_of(index);
    r.direction = direction_of(source);
    r.flags = 0;
    r.session = relay_.session();
    r.timestamp_ns = realtime_ns();
    r.fds.assign(fds.begin(), fds.end());
    NotifyRecord n{source, event, static_cast<uint16_t>(NotifyTable::queue_of(index)), count};
    encode_notify(n, std::span<uint8_t, kNotifyRecordLen>(r.bytes.data(), kNotifyRecordLen));
    // While a message is handled its own record goes first (the core calls emit_deferred()).
    if (defer_)
      pending_.push_back(r);
    else
      relay_.emit(r);
  }

  // Kicks and calls only: an error notification says nothing about the rings' entries.
  void notify_before(uint32_t index) {
    if (!before_forward_) return;
    const NotifySource source = NotifyTable::source_of(index);
    if (source == NotifySource::Kick || source == NotifySource::Call)
      before_forward_(NotifyTable::queue_of(index));
  }

  void forward(uint32_t index, uint64_t count) {
    NotifySlot& slot = table_.at(index);
    if (slot.hold) [[unlikely]] {
      if (slot.held == 0) slot.hold_order = relay_.next_hold_order();
      slot.held += count;
      emit(index, NotifyEvent::Held, count);
      return;
    }
    notify_before(index);
    if (!signal_eventfd(slot.sink.get(), count)) {
      const NotifySource source = NotifyTable::source_of(index);
      relay_.session_error(Channel::Frontend, direction_of(source),
                           "cannot relay a " + std::string(notify_source_name(source)) +
                               " of queue " + std::to_string(NotifyTable::queue_of(index)) + ": " +
                               errno_text(errno));
    }
    slot.relayed += count;
    emit(index, NotifyEvent::Relayed, count);
  }

  void release(uint32_t index, uint64_t count) {
    NotifySlot& slot = table_.at(index);
    count = std::min(count, slot.held);
    if (count == 0) return;
    notify_before(index);
    signal_eventfd(slot.sink.get(), count);
    slot.held -= count;
    slot.relayed += count;
    if (slot.held == 0) slot.hold_order = 0;
    emit(index, NotifyEvent::Released, count);
  }

  // Drains a source that is about to go and forwards what it held.
  void drain(uint32_t index, bool retired) {
    NotifySlot& slot = table_.at(index);
    const uint64_t count = retired ? drain_eventfd(slot.retired.get(), slot.retired_blocking)
                                   : drain_eventfd(slot.source.get(), slot.source_blocking);
    if (count != 0 && slot.sink) forward(index, count);
  }

  void teardown(uint32_t index, bool deliver) {
    NotifySlot* slot = table_.find(index);
    if (slot == nullptr || !slot->interposed()) return;
    watch(index, false, false);
    watch(index, true, false);
    if (deliver) {
      drain(index, true);
      drain(index, false);
      release(index, slot->held);
      emit(index, NotifyEvent::Closed, 0);
    }
    slot->held = 0;
    slot->hold_order = 0;
    slot->source.reset();
    slot->sink.reset();
    slot->retired.reset();
    slot->serial = ++serial_;
  }

  bool interpose(RelayFlow& flow, NotifySource source) {
    uint64_t raw;
    std::memcpy(&raw, flow.reader().bytes().data() + kHeaderSize, sizeof raw);
    const uint32_t index = NotifyTable::index(vring_index_of(raw), source);
    // Polling (NOFD) or not one eventfd: nothing to interpose; a previous pair of this queue ends.
    if (vring_nofd(raw) || flow.reader().fds().size() != 1 ||
        flow.record().fds[0].kind != FdKind::Eventfd) {
      teardown(index, true);
      return false;
    }
    const int frontend_fd = flow.reader().fds()[0];
    UniqueFd ours(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
    UniqueFd theirs(ours ? ::fcntl(ours.get(), F_DUPFD_CLOEXEC, 0) : -1);
    if (!theirs) {
      relay_.session_error(Channel::Frontend, Direction::ToBackend,
                           "cannot create an eventfd to interpose " +
                               std::string(notify_source_name(source)) + " of queue " +
                               std::to_string(NotifyTable::queue_of(index)) + " (" +
                               errno_text(errno) + "); relaying it unchanged");
      teardown(index, true);
      return false;
    }
    // The back-end's copy behaves like the fd the front-end sent (blocking or not); it shares our
    // file description, so when blocking, reads of our own copy check readiness first.
    const bool blocking = is_blocking(frontend_fd);
    if (blocking) ::fcntl(ours.get(), F_SETFL, ::fcntl(ours.get(), F_GETFL) & ~O_NONBLOCK);

    NotifySlot& slot = table_.at(index);
    UniqueFd new_frontend(flow.reader().take_fd(0));
    watch(index, false, false);
    watch(index, true, false);
    UniqueFd old_retired = std::move(slot.retired);
    UniqueFd old_source = std::move(slot.source);
    const bool old_retired_blocking = slot.retired_blocking,
               old_source_blocking = slot.source_blocking;
    FdInfo fds[2] = {flow.record().fds[0], {}};
    describe_fd(theirs.get(), fds[1]);
    // A swap: the old source stays watched (retired) until the next swap or teardown. Should it
    // be the very same eventfd again, the two registrations only race for one counter: whichever
    // reads second finds it empty (readiness is checked first for blocking fds), nothing is lost.
    if (old_source) emit(index, NotifyEvent::Closed, 0);
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
    slot.serial = ++serial_;
    watch(index, false, true);
    watch(index, true, true);
    emit(index, NotifyEvent::Interposed, 0, fds);
    // What the source that goes now still holds goes to the new sink: the one the reader uses
    // next.
    if (uint64_t n = drain_eventfd(old_retired.get(), old_retired_blocking)) forward(index, n);
    flow.begin_send(0, std::move(theirs));
    return true;
  }

  RelayServices& relay_;
  std::function<void(uint32_t)> before_forward_;
  NotifyTable table_;
  uint64_t serial_ = 0;
  Record record_;       // reused: no allocation per notification
  bool defer_ = false;  // inside on_message(): records wait for the message's own
  std::vector<Record> pending_;
};

}  // namespace

std::unique_ptr<NotifyInterposer> NotifyInterposer::create(
    RelayServices& relay, std::function<void(uint32_t queue)> before_forward) {
  return std::make_unique<NotifyPart>(relay, std::move(before_forward));
}

}  // namespace vhs
