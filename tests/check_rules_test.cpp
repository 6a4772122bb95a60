// The conformance checker on hand-built sessions: for every rule of the catalogue a scenario that
// breaks it (the violation names the rule, the blamed side and the message) and one that keeps it
// (no violation of that rule, nor of any other). A rule without both scenarios fails the
// coverage test, so the catalogue cannot grow untested. Each scenario also goes, as records,
// through a Store that runs the checker on ingest and one that replays the session afterwards
// (check_store_session): both must find the same violations.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "app/common/check_session.hpp"
#include "captures/model/store.hpp"
#include "decoders/conformance/checker.hpp"
#include "decoders/virtio/ring_snapshot.hpp"
#include "support/message_builder.hpp"

namespace vhs {
namespace {

using test::Bytes;

constexpr uint64_t kBit(unsigned b) { return uint64_t{1} << b; }
constexpr uint64_t kOffered = kBit(32) | kBit(30) | kBit(29) | kBit(28) | kBit(26);
constexpr uint64_t kAcked = kBit(32) | kBit(30) | kBit(29) | kBit(28);
constexpr uint64_t kProto(std::initializer_list<ProtocolFeature> fs) {
  uint64_t v = 0;
  for (ProtocolFeature f : fs) v |= feature_mask(f);
  return v;
}
using PF = ProtocolFeature;
const uint64_t kProtocol =
    kProto({PF::MQ, PF::LOG_SHMFD, PF::REPLY_ACK, PF::BACKEND_REQ, PF::CONFIG, PF::RESET_DEVICE,
            PF::CONFIGURE_MEM_SLOTS, PF::STATUS});

constexpr uint64_t kUva = 0x7f0000000000;
constexpr uint64_t kRamSize = 1 << 20;
constexpr uint64_t kSecond = 1'000'000'000;

FdInfo memfd(uint64_t size = kRamSize) { return {FdKind::Memfd, 100, size, "memfd:pc.ram"}; }
FdInfo eventfd() { return {FdKind::Eventfd, 200, 0, "[eventfd]"}; }
FdInfo socket_fd() { return {FdKind::Socket, 300, 0, "socket:[300]"}; }

void put64(Bytes& b, uint64_t v) {
  const size_t at = b.size();
  b.resize(at + 8);
  std::memcpy(b.data() + at, &v, 8);
}
void put32(Bytes& b, uint32_t v) {
  const size_t at = b.size();
  b.resize(at + 4);
  std::memcpy(b.data() + at, &v, 4);
}
Bytes single_region(uint64_t gpa, uint64_t size, uint64_t uva) {
  Bytes b;
  for (uint64_t v : {uint64_t{0}, gpa, size, uva, uint64_t{0}}) put64(b, v);
  return b;
}
Bytes config(uint32_t size) {
  Bytes b;
  put32(b, 0);
  put32(b, size);
  put32(b, 0);
  b.resize(b.size() + size);
  return b;
}
Bytes log_payload() {
  Bytes b;
  put64(b, 4096);
  put64(b, 0);
  return b;
}
Bytes inflight(uint64_t mmap_size, uint64_t mmap_offset, uint16_t queues, uint16_t queue_size) {
  Bytes b;
  put64(b, mmap_size);
  put64(b, mmap_offset);
  put32(b, uint32_t{queues} | uint32_t{queue_size} << 16);
  put32(b, 0);  // padding
  return b;
}
Bytes iotlb() {
  Bytes b;
  for (uint64_t v : {uint64_t{0x1000}, uint64_t{0x1000}, kUva}) put64(b, v);
  b.push_back(3);  // perm RW
  b.push_back(2);  // type UPDATE
  b.resize(32);
  return b;
}

RingSnapshot ring(uint32_t queue, uint16_t avail, uint16_t used) {
  RingSnapshot s;
  s.queue = queue;
  s.type = RingType::Split;
  s.size = 256;
  s.indices_ok = true;
  s.avail_idx = avail;
  s.used_idx = used;
  s.inflight = static_cast<uint16_t>(avail - used);
  return s;
}

Store::Options store_options(bool check_on_ingest) {
  Store::Options options;
  options.check_conformance = check_on_ingest;
  return options;
}

// One session fed to a checker: messages get references 0, 1, 2, ... in order (the number the
// violation must name) and timestamps 1 µs apart unless a step says otherwise. The same session
// goes as records into two stores (see the file comment).
struct Session {
  ConformanceChecker checker;
  uint64_t now = kSecond;
  MessageRef next = 0;
  Store on_ingest{store_options(true)}, replayed{store_options(false)};

  explicit Session(bool seen_from_start = true)
      : checker(ConformanceChecker::Options{DeviceKind::Unknown, seen_from_start}) {
    if (seen_from_start) mirror(RecordKind::Connect, Channel::Frontend, Direction::ToBackend, {});
  }

  void mirror(RecordKind kind, Channel channel, Direction direction, Bytes bytes,
              std::vector<FdInfo> fds = {}, uint16_t flags = 0) {
    Record r;
    r.kind = kind;
    r.channel = channel;
    r.direction = direction;
    r.session = 1;
    r.timestamp_ns = now;
    r.bytes = std::move(bytes);
    r.fds = std::move(fds);
    r.flags = flags;
    on_ingest.append(r);
    replayed.append(r);
  }

  MessageRef bytes(Channel channel, Direction direction, const Bytes& b,
                   std::vector<FdInfo> fds = {}, uint64_t step = 1000) {
    now += step;
    const DecodedMessage msg = decode_message(channel, b, fds, checker.decode_context());
    checker.on_message(next, now, direction, msg, fds);
    mirror(RecordKind::Message, channel, direction, b, std::move(fds));
    return next++;
  }
  // A request travels its channel's request way; a reply the other way.
  MessageRef send(std::string_view name, const Bytes& payload = {}, bool need_reply = false,
                  std::vector<FdInfo> fds = {}, uint64_t step = 1000) {
    const Channel c = test::request_info(name).channel;
    return bytes(c, request_direction(c), test::request(name, payload, need_reply), std::move(fds),
                 step);
  }
  MessageRef answer(std::string_view name, const Bytes& payload = {}) {
    const Channel c = test::request_info(name).channel;
    const Direction d =
        request_direction(c) == Direction::ToBackend ? Direction::ToFrontend : Direction::ToBackend;
    return bytes(c, d, test::reply(name, payload));
  }
  MessageRef state(const RingSnapshot& s, uint64_t step = 1000) {
    now += step;
    checker.on_ring_state(next, now, s);
    mirror(RecordKind::RingState, Channel::Frontend, Direction::ToBackend,
           encode_ring_snapshot(s));
    return next++;
  }
  void end(SessionAnalyser::End how = SessionAnalyser::End::RecorderStopped, uint64_t step = 1000) {
    now += step;
    checker.finish(now, how);
    if (how != SessionAnalyser::End::CaptureCut)
      mirror(RecordKind::Disconnect, Channel::Frontend, Direction::ToBackend, {}, {},
             how == SessionAnalyser::End::RecorderStopped ? kRecordClosedByProxy : 0);
  }
  // The two stores' violations, side by side, as text (empty when they agree).
  std::string stores_disagree() const {
    if (on_ingest.sessions().size() != 1 || replayed.sessions().size() != 1)
      return "not one session in each store";
    const auto a = check_store_session(on_ingest, on_ingest.sessions()[0]).violations;
    const auto b = check_store_session(replayed, replayed.sessions()[0]).violations;
    std::string out;
    for (size_t i = 0; i < std::max(a.size(), b.size()); ++i) {
      const auto line = [](const std::vector<Violation>& vs, size_t k) {
        return k < vs.size() ? std::string(rule_info(vs[k].rule).id) + " #" +
                                   std::to_string(vs[k].message) + " " + vs[k].observed
                             : std::string("(none)");
      };
      if (line(a, i) != line(b, i)) out += "on ingest: " + line(a, i) + "\n replayed: " + line(b, i) + "\n";
    }
    return out;
  }

  // QEMU's start-up with the given offers: negotiation, owner, one memory region, queue 0 set up
  // and started (and enabled when bit 30 is acked).
  void negotiate(uint64_t offered = kOffered, uint64_t acked = kAcked,
                 uint64_t protocol = kProtocol) {
    send("GET_FEATURES");
    answer("GET_FEATURES", test::u64_payload(offered));
    if (offered & kBit(30)) {
      send("GET_PROTOCOL_FEATURES");
      answer("GET_PROTOCOL_FEATURES", test::u64_payload(protocol));
      send("SET_PROTOCOL_FEATURES", test::u64_payload(protocol));
    }
    if (protocol & feature_mask(PF::MQ)) {
      send("GET_QUEUE_NUM");
      answer("GET_QUEUE_NUM", test::u64_payload(2));
    }
    if (protocol & feature_mask(PF::CONFIGURE_MEM_SLOTS)) {
      send("GET_MAX_MEM_SLOTS");
      answer("GET_MAX_MEM_SLOTS", test::u64_payload(8));
    }
    send("SET_OWNER");
    send("SET_FEATURES", test::u64_payload(acked));
  }
  void memory(uint64_t protocol = kProtocol) {
    if (protocol & feature_mask(PF::CONFIGURE_MEM_SLOTS)) {
      send("ADD_MEM_REG", single_region(0, kRamSize, kUva), false, {memfd()});
    } else {
      const test::Region r{0, kRamSize, kUva, 0};
      send("SET_MEM_TABLE", test::mem_table({&r, 1}), false, {memfd()});
    }
  }
  MessageRef start_queue(uint32_t q, bool enable = true, uint64_t uva = kUva) {
    send("SET_VRING_NUM", test::vring_state(q, 256));
    send("SET_VRING_BASE", test::vring_state(q, 0));
    send("SET_VRING_ADDR", test::vring_addr(q, 0, uva, uva + 0x2000, uva + 0x1000, 0));
    // QEMU sets the call notifier at connect (before the ring starts) and again to unmask.
    send("SET_VRING_CALL", test::vring_index_fd(static_cast<uint8_t>(q)), false, {eventfd()});
    const MessageRef kick =
        send("SET_VRING_KICK", test::vring_index_fd(static_cast<uint8_t>(q)), false, {eventfd()});
    send("SET_VRING_CALL", test::vring_index_fd(static_cast<uint8_t>(q)), false, {eventfd()});
    if (enable) send("SET_VRING_ENABLE", test::vring_state(q, 1));
    return kick;
  }
  void healthy(uint64_t protocol = kProtocol) {
    negotiate(kOffered, kAcked, protocol);
    memory(protocol);
    start_queue(0);
  }

  std::vector<Violation> of(RuleId rule) const {
    std::vector<Violation> out;
    for (const Violation& v : checker.violations())
      if (v.rule == rule) out.push_back(v);
    return out;
  }
};

std::string list(const std::vector<Violation>& vs) {
  std::string s;
  for (const Violation& v : vs)
    s += std::string(rule_info(v.rule).id) + " #" + std::to_string(v.message) + " " +
         std::string(side_name(v.blamed)) + ": " + v.observed + "\n";
  return s;
}

struct Case {
  RuleId rule;
  Side blamed;
  // Builds the breaking session and returns the message the violation must name.
  std::function<MessageRef(Session&)> violate;
  // Builds a session that keeps the rule, as close to the breaking one as it can be.
  std::function<void(Session&)> conform;
  bool seen_from_start = true;
};

const uint64_t kNoMq = kProtocol & ~feature_mask(PF::MQ);
const uint64_t kNoSlots = kProtocol & ~feature_mask(PF::CONFIGURE_MEM_SLOTS);
const uint64_t kNoReplyAck = kProtocol & ~feature_mask(PF::REPLY_ACK);
const uint64_t kNoBackendReq = kProtocol & ~feature_mask(PF::BACKEND_REQ);
const uint64_t kInflightProtocol = kProtocol | feature_mask(PF::INFLIGHT_SHMFD);

std::vector<Case> cases() {
  using E = SessionAnalyser::End;
  const uint32_t set_owner = test::request_number("SET_OWNER");
  const uint32_t get_features = test::request_number("GET_FEATURES");
  return {
      // ---- framing
      {RuleId::FrmVersion, Side::Frontend,
       [=](Session& r) {
         return r.bytes(Channel::Frontend, Direction::ToBackend, test::message(set_owner, 0x2));
       },
       [=](Session& r) {
         r.bytes(Channel::Frontend, Direction::ToBackend, test::message(set_owner, 0x1));
       },
       false},
      {RuleId::FrmReplyFlag, Side::Frontend,
       [=](Session& r) {
         r.healthy();
         return r.bytes(Channel::Frontend, Direction::ToBackend, test::message(get_features, 0x5));
       },
       [=](Session& r) {
         r.healthy();
         r.send("GET_FEATURES");
         r.answer("GET_FEATURES", test::u64_payload(kOffered));
       }},
      {RuleId::FrmReplyFlagsExact, Side::Backend,
       [=](Session& r) {
         r.healthy();
         r.send("GET_FEATURES");
         return r.bytes(Channel::Frontend, Direction::ToFrontend,
                        test::message(get_features, 0xd, test::u64_payload(kOffered)));
       },
       [=](Session& r) {
         r.healthy();
         r.send("GET_FEATURES");
         r.answer("GET_FEATURES", test::u64_payload(kOffered));
       }},
      {RuleId::FrmReservedFlags, Side::Frontend,
       [=](Session& r) {
         return r.bytes(Channel::Frontend, Direction::ToBackend, test::message(set_owner, 0x11));
       },
       [=](Session& r) {
         r.bytes(Channel::Frontend, Direction::ToBackend, test::message(set_owner, 0x1));
       },
       false},
      {RuleId::FrmPayloadSize, Side::Frontend,
       [=](Session& r) {
         r.negotiate();
         return r.send("SET_VRING_NUM", Bytes{1, 0, 0, 0});
       },
       [=](Session& r) {
         r.negotiate();
         r.send("SET_VRING_NUM", test::vring_state(0, 256));
       }},
      {RuleId::FrmFdCount, Side::Frontend,
       [=](Session& r) {
         r.negotiate();
         r.memory();
         return r.send("SET_VRING_KICK", test::vring_index_fd(0));
       },
       [=](Session& r) {
         r.negotiate();
         r.memory();
         r.send("SET_VRING_CALL", test::vring_index_fd(0), false, {eventfd()});
         r.send("SET_VRING_KICK", test::vring_index_fd(0), false, {eventfd()});
       }},
      {RuleId::FrmKnownRequest, Side::Frontend,
       [=](Session& r) {
         r.healthy();
         return r.bytes(Channel::Frontend, Direction::ToBackend, test::message(99, 0x1));
       },
       [=](Session& r) { r.healthy(); }},
      {RuleId::FrmFieldValue, Side::Frontend,
       [=](Session& r) {
         r.negotiate();
         return r.send("SET_VRING_NUM", test::vring_state(0, 0));
       },
       [=](Session& r) {
         r.negotiate();
         r.send("SET_VRING_NUM", test::vring_state(0, 256));
       }},
      {RuleId::FrmWaitForReply, Side::Frontend,
       [=](Session& r) {
         r.negotiate();
         r.memory();
         r.send("SET_VRING_NUM", test::vring_state(0, 256), true);
         const MessageRef next = r.send("SET_VRING_BASE", test::vring_state(0, 0));
         r.answer("SET_VRING_NUM", test::u64_payload(0));
         return next;
       },
       [=](Session& r) {
         r.negotiate();
         r.memory();
         r.send("SET_VRING_NUM", test::vring_state(0, 256), true);
         r.answer("SET_VRING_NUM", test::u64_payload(0));
         r.send("SET_VRING_BASE", test::vring_state(0, 0));
       }},
      // ---- negotiation
      {RuleId::NegGetBeforeSet, Side::Frontend,
       [=](Session& r) { return r.send("SET_FEATURES", test::u64_payload(kAcked)); },
       [=](Session& r) { r.negotiate(); }},
      {RuleId::NegAckedOffered, Side::Frontend,
       [=](Session& r) {
         r.negotiate();
         return r.send("SET_FEATURES", test::u64_payload(kAcked | kBit(33)));
       },
       [=](Session& r) {
         r.negotiate();
         r.send("SET_FEATURES", test::u64_payload(kAcked));
       }},
      {RuleId::NegProtocolAckedOffered, Side::Frontend,
       [=](Session& r) {
         r.send("GET_FEATURES");
         r.answer("GET_FEATURES", test::u64_payload(kOffered));
         r.send("GET_PROTOCOL_FEATURES");
         r.answer("GET_PROTOCOL_FEATURES", test::u64_payload(kNoMq));
         return r.send("SET_PROTOCOL_FEATURES", test::u64_payload(kProtocol));
       },
       [=](Session& r) { r.negotiate(kOffered, kAcked, kNoMq); }},
      {RuleId::NegProtocolNeedsBit30, Side::Frontend,
       [=](Session& r) {
         r.send("GET_FEATURES");
         r.answer("GET_FEATURES", test::u64_payload(kOffered & ~kBit(30)));
         return r.send("GET_PROTOCOL_FEATURES");
       },
       [=](Session& r) { r.negotiate(kOffered & ~kBit(30), kAcked & ~kBit(30), 0); }},
      {RuleId::NegGatedRequest, Side::Frontend,
       [=](Session& r) {
         r.negotiate(kOffered, kAcked, kNoMq);
         return r.send("GET_QUEUE_NUM");
       },
       [=](Session& r) { r.negotiate(); }},
      {RuleId::NegReplyAck, Side::Backend,
       [=](Session& r) {
         r.negotiate();
         r.memory();
         const MessageRef req = r.send("SET_VRING_NUM", test::vring_state(0, 256), true);
         r.end();
         return req;
       },
       [=](Session& r) {
         r.negotiate();
         r.memory();
         r.send("SET_VRING_NUM", test::vring_state(0, 256), true);
         r.answer("SET_VRING_NUM", test::u64_payload(0));
         r.end();
       }},
      {RuleId::NegReplyOnceInOrder, Side::Backend,
       [=](Session& r) {
         r.negotiate();
         r.send("GET_FEATURES");
         r.answer("GET_FEATURES", test::u64_payload(kOffered));
         return r.answer("GET_FEATURES", test::u64_payload(kOffered));
       },
       [=](Session& r) {
         r.negotiate();
         r.send("GET_FEATURES");
         r.answer("GET_FEATURES", test::u64_payload(kOffered));
       }},
      // ---- ownership
      {RuleId::OwnOwnerFirst, Side::Frontend,
       [=](Session& r) {
         r.send("GET_FEATURES");
         r.answer("GET_FEATURES", test::u64_payload(kOffered & ~kBit(30)));
         r.send("SET_FEATURES", test::u64_payload(kAcked & ~kBit(30)));
         const test::Region reg{0, kRamSize, kUva, 0};
         return r.send("SET_MEM_TABLE", test::mem_table({&reg, 1}), false, {memfd()});
       },
       [=](Session& r) {
         r.negotiate(kOffered & ~kBit(30), kAcked & ~kBit(30), 0);
         r.memory(0);
       }},
      // ---- memory
      {RuleId::MemNoOverlap, Side::Frontend,
       [=](Session& r) {
         r.healthy();
         return r.send("ADD_MEM_REG", single_region(0x80000, kRamSize, kUva + 2 * kRamSize), false,
                       {memfd()});
       },
       [=](Session& r) {
         r.healthy();
         r.send("ADD_MEM_REG", single_region(kRamSize, kRamSize, kUva + 2 * kRamSize), false,
                {memfd()});
       }},
      {RuleId::MemSlotsGated, Side::Frontend,
       [=](Session& r) {
         r.negotiate(kOffered, kAcked, kNoSlots);
         return r.send("ADD_MEM_REG", single_region(0, kRamSize, kUva), false, {memfd()});
       },
       [=](Session& r) {
         r.negotiate(kOffered, kAcked, kNoSlots);
         r.memory(kNoSlots);
       }},
      {RuleId::MemSlotLimit, Side::Frontend,
       [=](Session& r) {
         r.negotiate();
         r.send("GET_MAX_MEM_SLOTS");
         r.answer("GET_MAX_MEM_SLOTS", test::u64_payload(1));
         r.memory();
         return r.send("ADD_MEM_REG", single_region(kRamSize, kRamSize, kUva + kRamSize), false,
                       {memfd()});
       },
       [=](Session& r) {
         r.negotiate();
         r.send("GET_MAX_MEM_SLOTS");
         r.answer("GET_MAX_MEM_SLOTS", test::u64_payload(2));
         r.memory();
         r.send("ADD_MEM_REG", single_region(kRamSize, kRamSize, kUva + kRamSize), false,
                {memfd()});
       }},
      {RuleId::MemRemoveKnown, Side::Frontend,
       [=](Session& r) {
         r.healthy();
         return r.send("REM_MEM_REG", single_region(kRamSize, kRamSize, kUva + kRamSize));
       },
       [=](Session& r) {
         r.healthy();
         r.send("REM_MEM_REG", single_region(0, kRamSize, kUva));
       }},
      {RuleId::MemRingMapped, Side::Frontend,
       [=](Session& r) {
         r.negotiate();
         r.memory();
         return r.start_queue(0, true, kUva + 4 * kRamSize);
       },
       [=](Session& r) { r.healthy(); }},
      {RuleId::MemRegionWithinFd, Side::Frontend,
       [=](Session& r) {
         r.negotiate();
         return r.send("ADD_MEM_REG", single_region(0, kRamSize, kUva), false,
                       {memfd(kRamSize / 2)});
       },
       [=](Session& r) {
         r.negotiate();
         r.memory();
       }},
      {RuleId::MemIotlbGated, Side::Frontend,
       [=](Session& r) {
         r.healthy();
         return r.send("IOTLB_MSG", iotlb(), true);
       },
       [=](Session& r) {
         r.negotiate(kOffered | kBit(33), kAcked | kBit(33));
         r.memory();
         r.send("IOTLB_MSG", iotlb(), true);
         r.answer("IOTLB_MSG", test::u64_payload(0));
       }},
      // ---- rings
      {RuleId::RingBaseReply, Side::Backend,
       [=](Session& r) {
         r.healthy();
         r.state(ring(0, 17, 17));
         r.send("GET_VRING_BASE", test::vring_state(0, 0));
         return r.answer("GET_VRING_BASE", test::vring_state(0, 0));
       },
       [=](Session& r) {
         r.healthy();
         r.state(ring(0, 17, 17));
         r.send("GET_VRING_BASE", test::vring_state(0, 0));
         r.answer("GET_VRING_BASE", test::vring_state(0, 17));
       }},
      {RuleId::RingNoResizeStarted, Side::Frontend,
       [=](Session& r) {
         r.healthy();
         return r.send("SET_VRING_NUM", test::vring_state(0, 128));
       },
       [=](Session& r) {
         r.healthy();
         r.send("GET_VRING_BASE", test::vring_state(0, 0));
         r.answer("GET_VRING_BASE", test::vring_state(0, 0));
         r.send("SET_VRING_NUM", test::vring_state(0, 128));
       }},
      {RuleId::RingEnableGated, Side::Frontend,
       [=](Session& r) {
         r.negotiate(kOffered, kAcked & ~kBit(30));
         return r.send("SET_VRING_ENABLE", test::vring_state(0, 1));
       },
       [=](Session& r) {
         r.negotiate();
         r.send("SET_VRING_ENABLE", test::vring_state(0, 1));
       }},
      {RuleId::RingEnabledByDefault, Side::Backend,
       [=](Session& r) {
         r.negotiate(kOffered, kAcked & ~kBit(30));
         r.memory();
         const MessageRef kick = r.start_queue(0, false);
         r.state(ring(0, 1, 0));
         r.end(SessionAnalyser::End::RecorderStopped, 2 * kSecond);
         return kick;
       },
       [=](Session& r) {
         r.negotiate(kOffered, kAcked & ~kBit(30));
         r.memory();
         r.start_queue(0, false);
         r.state(ring(0, 1, 0));
         r.state(ring(0, 1, 1));
         r.end(SessionAnalyser::End::RecorderStopped, 2 * kSecond);
       }},
      {RuleId::RingLostKick, Side::Backend,
       [=](Session& r) {
         r.negotiate();
         r.memory();
         r.start_queue(0, false);
         r.state(ring(0, 1, 0));
         const MessageRef enable = r.send("SET_VRING_ENABLE", test::vring_state(0, 1));
         r.end(SessionAnalyser::End::RecorderStopped, 2 * kSecond);
         return enable;
       },
       [=](Session& r) {
         r.negotiate();
         r.memory();
         r.start_queue(0, false);
         r.state(ring(0, 1, 0));
         r.send("SET_VRING_ENABLE", test::vring_state(0, 1));
         r.state(ring(0, 1, 1));
         r.end(SessionAnalyser::End::RecorderStopped, 2 * kSecond);
       }},
      {RuleId::RingStoppedUntouched, Side::Backend,
       [=](Session& r) {
         r.healthy();
         r.state(ring(0, 6, 5));
         r.send("GET_VRING_BASE", test::vring_state(0, 0));
         r.answer("GET_VRING_BASE", test::vring_state(0, 5));
         r.state(ring(0, 6, 5));
         return r.state(ring(0, 6, 6));
       },
       [=](Session& r) {
         r.healthy();
         r.state(ring(0, 6, 5));
         r.send("GET_VRING_BASE", test::vring_state(0, 0));
         r.answer("GET_VRING_BASE", test::vring_state(0, 5));
         r.state(ring(0, 6, 5));
         r.state(ring(0, 6, 5));
       }},
      {RuleId::RingUsedBehindAvail, Side::Backend,
       [=](Session& r) {
         r.healthy();
         return r.state(ring(0, 3, 5));
       },
       [=](Session& r) {
         r.healthy();
         r.state(ring(0, 5, 3));
       }},
      {RuleId::RingUsedIdInRange, Side::Backend,
       [=](Session& r) {
         r.healthy();
         RingSnapshot s = ring(0, 2, 2);
         s.faults.push_back({RingFaultKind::UsedIdOutOfRange, ChainError::None, 0, 1, 300});
         return r.state(s);
       },
       [=](Session& r) {
         r.healthy();
         r.state(ring(0, 2, 2));
       }},
      {RuleId::RingUsedWasInFlight, Side::Backend,
       [=](Session& r) {
         r.healthy();
         RingSnapshot s = ring(0, 2, 2);
         s.faults.push_back({RingFaultKind::UsedNotInFlight, ChainError::None, 3, 1, 1});
         return r.state(s);
       },
       [=](Session& r) {
         r.healthy();
         r.state(ring(0, 2, 1));
         r.state(ring(0, 2, 2));
       }},
      {RuleId::RingUsedLenWithinChain, Side::Backend,
       [=](Session& r) {
         r.healthy();
         RingSnapshot s = ring(0, 2, 2);
         s.faults.push_back({RingFaultKind::UsedLenBeyondChain, ChainError::None, 0, 1,
                             (uint64_t{121} << 32) | 21});
         return r.state(s);
       },
       [=](Session& r) {
         r.healthy();
         r.state(ring(0, 2, 2));
       }},
      {RuleId::RingAvailHeadInRange, Side::Frontend,
       [=](Session& r) {
         r.healthy();
         RingSnapshot s = ring(0, 2, 1);
         s.faults.push_back({RingFaultKind::HeadOutOfRange, ChainError::None, 0, 1, 999});
         return r.state(s);
       },
       [=](Session& r) {
         r.healthy();
         r.state(ring(0, 2, 1));
       }},
      {RuleId::RingChainWellFormed, Side::Frontend,
       [=](Session& r) {
         r.healthy();
         RingSnapshot s = ring(0, 2, 1);
         s.faults.push_back({RingFaultKind::Chain, ChainError::Loop, 4, 7, 0});
         return r.state(s);
       },
       [=](Session& r) {
         r.healthy();
         r.state(ring(0, 2, 1));
       }},
      {RuleId::RingIndexInRange, Side::Frontend,
       [=](Session& r) {
         r.negotiate();
         return r.send("SET_VRING_NUM", test::vring_state(9, 256));
       },
       [=](Session& r) {
         r.negotiate();
         r.send("SET_VRING_NUM", test::vring_state(3, 256));
       }},
      // ---- back-end channel
      {RuleId::ChanNeedsBackendReq, Side::Backend,
       [=](Session& r) {
         r.negotiate(kOffered, kAcked, kNoBackendReq);
         return r.send("BACKEND_CONFIG_CHANGE_MSG");
       },
       [=](Session& r) {
         r.negotiate();
         r.send("SET_BACKEND_REQ_FD", {}, false, {socket_fd()});
         r.send("BACKEND_CONFIG_CHANGE_MSG");
       }},
      {RuleId::ChanFrontendAcks, Side::Frontend,
       [=](Session& r) {
         r.negotiate();
         r.send("SET_BACKEND_REQ_FD", {}, false, {socket_fd()});
         const MessageRef req = r.send("BACKEND_CONFIG_CHANGE_MSG", {}, true);
         r.end();
         return req;
       },
       [=](Session& r) {
         r.negotiate();
         r.send("SET_BACKEND_REQ_FD", {}, false, {socket_fd()});
         r.send("BACKEND_CONFIG_CHANGE_MSG", {}, true);
         r.answer("BACKEND_CONFIG_CHANGE_MSG", test::u64_payload(0));
         r.end();
       }},
      // ---- log / migration
      {RuleId::LogFdWithShmfd, Side::Frontend,
       [=](Session& r) {
         r.healthy();
         return r.send("SET_LOG_BASE", log_payload());
       },
       [=](Session& r) {
         r.healthy();
         r.send("SET_LOG_BASE", log_payload(), false, {memfd(4096)});
         r.answer("SET_LOG_BASE", test::u64_payload(0));
       }},
      {RuleId::LogBaseReply, Side::Backend,
       [=](Session& r) {
         r.healthy();
         const MessageRef log = r.send("SET_LOG_BASE", log_payload(), false, {memfd(4096)});
         r.end(E::RecorderStopped, 3 * kSecond);
         return log;
       },
       [=](Session& r) {
         r.healthy();
         r.send("SET_LOG_BASE", log_payload(), false, {memfd(4096)});
         r.answer("SET_LOG_BASE", test::u64_payload(0));
         r.end(E::RecorderStopped, 3 * kSecond);
       }},
      {RuleId::LogFlagNeedsBase, Side::Frontend,
       [=](Session& r) {
         r.healthy();
         return r.send("SET_VRING_ADDR",
                       test::vring_addr(0, 1, kUva, kUva + 0x2000, kUva + 0x1000, 0));
       },
       [=](Session& r) {
         r.healthy();
         r.send("SET_LOG_BASE", log_payload(), false, {memfd(4096)});
         r.answer("SET_LOG_BASE", test::u64_payload(0));
         r.send("SET_VRING_ADDR", test::vring_addr(0, 1, kUva, kUva + 0x2000, kUva + 0x1000, 0));
       }},
      {RuleId::LogFdKinds, Side::Frontend,
       [=](Session& r) {
         r.healthy();
         return r.send("SET_LOG_FD", {}, false, {memfd(4096)});
       },
       [=](Session& r) {
         r.healthy();
         r.send("SET_LOG_FD", {}, false, {eventfd()});
       }},
      {RuleId::RingCallBeforeStart, Side::Frontend,
       [=](Session& r) {
         r.negotiate();
         r.memory();
         r.send("SET_VRING_NUM", test::vring_state(0, 256));
         r.send("SET_VRING_BASE", test::vring_state(0, 0));
         r.send("SET_VRING_ADDR", test::vring_addr(0, 0, kUva, kUva + 0x2000, kUva + 0x1000, 0));
         return r.send("SET_VRING_KICK", test::vring_index_fd(0), false, {eventfd()});
       },
       [=](Session& r) {
         r.negotiate();
         r.memory();
         r.send("SET_VRING_NUM", test::vring_state(0, 256));
         r.send("SET_VRING_BASE", test::vring_state(0, 0));
         r.send("SET_VRING_ADDR", test::vring_addr(0, 0, kUva, kUva + 0x2000, kUva + 0x1000, 0));
         r.send("SET_VRING_CALL", test::vring_index_fd(0, /*nofd=*/true));  // the driver polls
         r.send("SET_VRING_KICK", test::vring_index_fd(0), false, {eventfd()});
       }},
      // ---- config
      {RuleId::CfgReplySize, Side::Backend,
       [=](Session& r) {
         r.negotiate();
         r.send("GET_CONFIG", config(16));
         return r.answer("GET_CONFIG", config(8));
       },
       [=](Session& r) {
         r.negotiate();
         r.send("GET_CONFIG", config(16));
         r.answer("GET_CONFIG", config(16));
       }},
      // ---- inflight I/O tracking
      {RuleId::InfReplyBuffer, Side::Backend,
       [=](Session& r) {
         r.negotiate(kOffered, kAcked, kInflightProtocol);
         r.send("GET_INFLIGHT_FD", inflight(0, 0, 1, 256));
         return r.bytes(Channel::Frontend, Direction::ToFrontend,
                        test::reply("GET_INFLIGHT_FD", inflight(0x2000, 0, 1, 256)),
                        {memfd(0x1000)});
       },
       [=](Session& r) {
         r.negotiate(kOffered, kAcked, kInflightProtocol);
         r.send("GET_INFLIGHT_FD", inflight(0, 0, 1, 256));
         r.bytes(Channel::Frontend, Direction::ToFrontend,
                 test::reply("GET_INFLIGHT_FD", inflight(0x2000, 0, 1, 256)), {memfd(0x2000)});
         // A back-end may decline with size 0 and no fd.
         r.send("GET_INFLIGHT_FD", inflight(0, 0, 1, 256));
         r.answer("GET_INFLIGHT_FD", inflight(0, 0, 1, 256));
       }},
      {RuleId::InfSetMatchesGet, Side::Frontend,
       [=](Session& r) {
         r.negotiate(kOffered, kAcked, kInflightProtocol);
         r.send("GET_INFLIGHT_FD", inflight(0, 0, 1, 256));
         r.bytes(Channel::Frontend, Direction::ToFrontend,
                 test::reply("GET_INFLIGHT_FD", inflight(0x2000, 0, 1, 256)), {memfd(0x2000)});
         return r.send("SET_INFLIGHT_FD", inflight(0x2000, 0, 2, 256), false, {memfd(0x2000)});
       },
       [=](Session& r) {
         r.negotiate(kOffered, kAcked, kInflightProtocol);
         r.send("GET_INFLIGHT_FD", inflight(0, 0, 1, 256));
         r.bytes(Channel::Frontend, Direction::ToFrontend,
                 test::reply("GET_INFLIGHT_FD", inflight(0x2000, 0, 1, 256)), {memfd(0x2000)});
         r.send("SET_INFLIGHT_FD", inflight(0x2000, 0, 1, 256), false, {memfd(0x2000)});
       }},
      // ---- VIRTIO device lifecycle
      {RuleId::LifeFeaturesFixed, Side::Frontend,
       [=](Session& r) {
         r.negotiate();
         r.send("SET_STATUS", test::u64_payload(0xb));
         return r.send("SET_FEATURES", test::u64_payload(kAcked & ~kBit(29)));
       },
       [=](Session& r) {
         r.negotiate();
         r.send("SET_STATUS", test::u64_payload(0xb));
         r.send("SET_FEATURES", test::u64_payload(kAcked | kBit(26)));  // LOG_ALL may toggle
       }},
      {RuleId::LifeDriverOkAfterFeaturesOk, Side::Frontend,
       [=](Session& r) {
         r.healthy();
         return r.send("SET_STATUS", test::u64_payload(0x7));
       },
       [=](Session& r) {
         r.healthy();
         r.send("SET_STATUS", test::u64_payload(0xf));
       }},
      {RuleId::LifeFeaturesAfterReset, Side::Frontend,
       [=](Session& r) {
         r.healthy();
         r.send("RESET_DEVICE");
         return r.start_queue(0);
       },
       [=](Session& r) {
         r.healthy();
         r.send("RESET_DEVICE");
         r.send("SET_FEATURES", test::u64_payload(kAcked));
         r.start_queue(0);
       }},
      {RuleId::LifeNoUseBeforeDriverOk, Side::Backend,
       [=](Session& r) {
         r.negotiate();
         r.send("SET_STATUS", test::u64_payload(0xb));  // FEATURES_OK, no DRIVER_OK
         r.memory();
         r.start_queue(0);
         r.state(ring(0, 1, 0));
         return r.state(ring(0, 1, 1));
       },
       [=](Session& r) {
         r.negotiate();
         r.send("SET_STATUS", test::u64_payload(0xb));
         r.memory();
         r.start_queue(0);
         r.state(ring(0, 1, 0));
         r.send("SET_STATUS", test::u64_payload(0xf));
         r.state(ring(0, 1, 1));
       }},
      {RuleId::LifeNeedsReset, Side::Frontend,
       [=](Session& r) {
         r.healthy();
         r.send("GET_STATUS");
         r.answer("GET_STATUS", test::u64_payload(0x4f));
         return r.send("SET_STATUS", test::u64_payload(0xf));
       },
       [=](Session& r) {
         r.healthy();
         r.send("GET_STATUS");
         r.answer("GET_STATUS", test::u64_payload(0x4f));
         r.send("SET_STATUS", test::u64_payload(0));
         r.send("SET_FEATURES", test::u64_payload(kAcked));
         r.send("SET_STATUS", test::u64_payload(0xf));
       }},
  };
}

class CheckRule : public ::testing::TestWithParam<Case> {};

TEST_P(CheckRule, BreakingSessionNamesRuleSideAndMessage) {
  const Case& c = GetParam();
  Session r(c.seen_from_start);
  const MessageRef expected = c.violate(r);
  const auto found = r.of(c.rule);
  ASSERT_FALSE(found.empty()) << "no " << rule_info(c.rule).id << "; got:\n"
                              << list(r.checker.violations());
  EXPECT_EQ(found.front().blamed, c.blamed);
  EXPECT_EQ(found.front().message, expected) << list(found);
  EXPECT_FALSE(found.front().expected.empty());
  EXPECT_FALSE(found.front().observed.empty());
}

TEST_P(CheckRule, ConformingSessionHasNoViolation) {
  const Case& c = GetParam();
  Session r(c.seen_from_start);
  c.conform(r);
  EXPECT_TRUE(r.checker.violations().empty()) << list(r.checker.violations());
}

TEST_P(CheckRule, StoreCheckingOnIngestAgreesWithAReplay) {
  const Case& c = GetParam();
  Session breaking(c.seen_from_start), keeping(c.seen_from_start);
  c.violate(breaking);
  c.conform(keeping);
  EXPECT_EQ(breaking.stores_disagree(), "");
  EXPECT_EQ(keeping.stores_disagree(), "");
  // The store saw the violation too (its record numbers differ from the bare checker's).
  bool found = false;
  for (const Violation& v :
       check_store_session(breaking.on_ingest, breaking.on_ingest.sessions()[0]).violations)
    found |= v.rule == c.rule;
  EXPECT_TRUE(found) << rule_info(c.rule).id;
}

INSTANTIATE_TEST_SUITE_P(Catalogue, CheckRule, ::testing::ValuesIn(cases()),
                         [](const ::testing::TestParamInfo<Case>& info) {
                           std::string name(rule_info(info.param.rule).id);
                           for (char& ch : name)
                             if (ch == '-') ch = '_';
                           return name;
                         });

TEST(CheckCatalogue, EveryRuleHasAScenarioPair) {
  std::vector<bool> covered(all_rules().size(), false);
  for (const Case& c : cases()) covered[static_cast<size_t>(c.rule)] = true;
  for (const Rule& rule : all_rules())
    EXPECT_TRUE(covered[static_cast<size_t>(rule.rule)]) << rule.id << " has no scenario";
}

TEST(CheckCatalogue, RowsAreComplete) {
  for (const Rule& rule : all_rules()) {
    EXPECT_TRUE(rule.id.starts_with("VU-")) << rule.id;
    EXPECT_NE(rule.statement.find("MUST"), std::string_view::npos) << rule.id;
    EXPECT_FALSE(rule.section.empty()) << rule.id;
    EXPECT_EQ(find_rule(rule.id), &rule);
  }
  EXPECT_EQ(find_rule("vu-neg-001"), &rule_info(RuleId::NegGetBeforeSet));
  EXPECT_EQ(find_rule("VU-NOPE-001"), nullptr);
}

// A new finding kind must be placed: evidence of a rule, or a diagnostic with the reason.
TEST(CheckCatalogue, EveryFindingKindIsMappedToARuleOrADiagnostic) {
  ASSERT_EQ(all_finding_rules().size(), all_findings().size())
      << "add the new finding kinds to kFindingRules in decoders/conformance/rules.cpp";
  for (const FindingRule& f : all_finding_rules())
    EXPECT_TRUE(f.rule.has_value() || !f.why.empty()) << finding_info(f.code).id;
}

TEST(CheckCatalogue, HangsAreDiagnostics) {
  for (FindingCode code : {FindingCode::Unanswered, FindingCode::RingStalled,
                           FindingCode::ReplyTimeout, FindingCode::NoReplyYet})
    EXPECT_FALSE(finding_rule(code).rule.has_value()) << finding_info(code).id;
  EXPECT_EQ(finding_rule(FindingCode::OverlappingRegion).rule, RuleId::MemNoOverlap);
}

// ---- The known real bugs of issue 13's acceptance list, each as the session that shows it.

bool contains(const std::string& text, std::string_view part) {
  return text.find(part) != std::string::npos;
}

// A back-end that answers GET_VRING_BASE with 0 although the ring had moved: it reset the ring
// instead of stopping it. The reply must be the next avail index it would process.
TEST(CheckAcceptance, VringBaseReplyOfAResetRing) {
  Session r;
  r.healthy();
  r.state(ring(0, 17, 17));
  r.send("SET_VRING_ENABLE", test::vring_state(0, 0));
  r.send("GET_VRING_BASE", test::vring_state(0, 0));
  const MessageRef reply = r.answer("GET_VRING_BASE", test::vring_state(0, 0));
  const auto found = r.of(RuleId::RingBaseReply);
  ASSERT_EQ(found.size(), 1u) << list(r.checker.violations());
  EXPECT_EQ(found[0].message, reply);
  EXPECT_EQ(found[0].blamed, Side::Backend);
  EXPECT_TRUE(contains(found[0].expected, "between used idx 17 and avail idx 17"))
      << found[0].expected;
  EXPECT_TRUE(contains(found[0].observed, "reset the ring instead of stopping it"))
      << found[0].observed;
}

// A kick that arrives before SET_VRING_ENABLE(1), after which the back-end never processes the
// ring (the guest hangs at boot): the violation names the enable and the ring state that showed
// the lost kick, not just a stall.
TEST(CheckAcceptance, KickBeforeEnableIsLost) {
  Session r;
  r.negotiate();
  r.memory();
  r.start_queue(0, /*enable=*/false);
  const MessageRef kicked = r.state(ring(0, 1, 0));
  const MessageRef enable = r.send("SET_VRING_ENABLE", test::vring_state(0, 1));
  r.state(ring(0, 1, 0), kSecond / 2);
  r.end(SessionAnalyser::End::RecorderStopped, 2 * kSecond);
  const auto found = r.of(RuleId::RingLostKick);
  ASSERT_EQ(found.size(), 1u) << list(r.checker.violations());
  EXPECT_EQ(found[0].message, enable);
  EXPECT_EQ(found[0].blamed, Side::Backend);
  ASSERT_EQ(found[0].related.size(), 1u);
  EXPECT_EQ(found[0].related[0], kicked);
  EXPECT_TRUE(contains(found[0].observed, "kick that arrived while the ring was disabled was lost"))
      << found[0].observed;
  EXPECT_EQ(r.checker.violations().size(), 1u) << list(r.checker.violations());
}

// SET_LOG_BASE never answered during migration: the front-end waits forever. The violation names
// the request and the reply rule that applies (a reply only with LOG_SHMFD).
TEST(CheckAcceptance, SetLogBaseNeverAnswered) {
  Session r;
  r.healthy();
  r.send("SET_FEATURES", test::u64_payload(kAcked | kBit(26)));  // LOG_ALL: migration starts
  const MessageRef log = r.send("SET_LOG_BASE", log_payload(), false, {memfd(4096)});
  r.end(SessionAnalyser::End::RecorderStopped, 5 * kSecond);
  const auto found = r.of(RuleId::LogBaseReply);
  ASSERT_EQ(found.size(), 1u) << list(r.checker.violations());
  EXPECT_EQ(found[0].message, log);
  EXPECT_EQ(found[0].blamed, Side::Backend);
  EXPECT_TRUE(contains(found[0].expected, "LOG_SHMFD was negotiated")) << found[0].expected;

  // Without LOG_SHMFD SET_LOG_BASE has no reply: nothing to wait for, nothing to blame.
  const uint64_t no_shmfd = kProtocol & ~feature_mask(PF::LOG_SHMFD);
  Session plain;
  plain.healthy(no_shmfd);
  plain.send("SET_LOG_BASE", log_payload());
  plain.end(SessionAnalyser::End::RecorderStopped, 5 * kSecond);
  EXPECT_TRUE(plain.checker.violations().empty()) << list(plain.checker.violations());
}

// A back-end that disables a ring on SET_VRING_KICK although PROTOCOL_FEATURES was not
// negotiated: without bit 30 the ring is enabled as it starts. With bit 30 the same ring states
// break nothing: the ring is disabled until SET_VRING_ENABLE(1).
TEST(CheckAcceptance, RingEnabledStateWithAndWithoutProtocolFeatures) {
  Session without;
  without.negotiate(kOffered, kAcked & ~kBit(30));
  without.memory();
  const MessageRef kick = without.start_queue(0, /*enable=*/false);
  without.state(ring(0, 4, 0));
  without.end(SessionAnalyser::End::RecorderStopped, 3 * kSecond);
  const auto found = without.of(RuleId::RingEnabledByDefault);
  ASSERT_EQ(found.size(), 1u) << list(without.checker.violations());
  EXPECT_EQ(found[0].message, kick);
  EXPECT_EQ(found[0].blamed, Side::Backend);
  EXPECT_TRUE(contains(found[0].expected, "without PROTOCOL_FEATURES")) << found[0].expected;

  Session with;
  with.negotiate();
  with.memory();
  with.start_queue(0, /*enable=*/false);
  with.state(ring(0, 4, 0));
  with.end(SessionAnalyser::End::RecorderStopped, 3 * kSecond);
  EXPECT_TRUE(with.checker.violations().empty()) << list(with.checker.violations());
}

// QEMU 7.2+ sends SET_VRING_ENABLE(0) before GET_VRING_BASE when it stops a device. The spec does
// not forbid it ("Ring states": enabled and started are independent), so neither profile reports
// it: no rule is violated at all.
TEST(CheckAcceptance, DisableBeforeGetVringBaseIsNotAViolation) {
  Session r;
  r.healthy();
  r.state(ring(0, 20, 20));
  r.send("SET_VRING_ENABLE", test::vring_state(0, 0));
  r.send("GET_VRING_BASE", test::vring_state(0, 0));
  r.answer("GET_VRING_BASE", test::vring_state(0, 20));
  r.send("SET_STATUS", test::u64_payload(0));
  r.end(SessionAnalyser::End::PeerClosed);
  EXPECT_TRUE(r.checker.violations().empty()) << list(r.checker.violations());
  for (const Rule& rule : all_rules()) EXPECT_TRUE(rule_applies(rule, Profile::Spec)) << rule.id;
}

// A rule with a known QEMU deviation is judged by --profile spec and skipped by --profile qemu.
TEST(CheckCatalogue, ProfileQemuAcceptsOnlyListedDeviations) {
  Rule deviating = rule_info(RuleId::RingNoResizeStarted);
  deviating.qemu_deviation = "QEMU does this on purpose";
  EXPECT_TRUE(rule_applies(deviating, Profile::Spec));
  EXPECT_FALSE(rule_applies(deviating, Profile::Qemu));
  for (const Rule& rule : all_rules())
    EXPECT_EQ(rule_applies(rule, Profile::Qemu), rule.qemu_deviation.empty()) << rule.id;
}

// A hung back-end (nothing moves after the request) leaves GET_VRING_BASE unanswered: a
// diagnostic, not a violation. One that goes on using the ring but never answers breaks the rule.
TEST(CheckCatalogue, UnansweredIsAViolationOnlyWhenThePeerWasAlive) {
  Session hung;
  hung.healthy();
  hung.state(ring(0, 3, 2));
  hung.send("GET_VRING_BASE", test::vring_state(0, 0));
  hung.end(SessionAnalyser::End::RecorderStopped, 3 * kSecond);
  EXPECT_TRUE(hung.checker.violations().empty()) << list(hung.checker.violations());

  Session alive;
  alive.healthy();
  alive.state(ring(0, 3, 2));
  const MessageRef get = alive.send("GET_VRING_BASE", test::vring_state(0, 0));
  alive.state(ring(0, 3, 3));
  alive.end(SessionAnalyser::End::RecorderStopped, 3 * kSecond);
  const auto found = alive.of(RuleId::NegReplyOnceInOrder);
  ASSERT_EQ(found.size(), 1u) << list(alive.checker.violations());
  EXPECT_EQ(found[0].message, get);
  EXPECT_EQ(found[0].blamed, Side::Backend);
}

// VU-FRM-006 judges the kind of each fd by the role the registry gives the request's fds.
TEST(CheckCatalogue, FdKindFollowsTheRegistryRole) {
  Session r;
  r.negotiate();
  r.memory();
  const MessageRef kick = r.send("SET_VRING_KICK", test::vring_index_fd(0), false, {memfd(4096)});
  const auto found = r.of(RuleId::FrmFdCount);
  ASSERT_EQ(found.size(), 1u) << list(r.checker.violations());
  EXPECT_EQ(found[0].message, kick);
  EXPECT_TRUE(contains(found[0].expected, "SET_VRING_KICK's fd (kick eventfd) is eventfd or pipe"))
      << found[0].expected;
  EXPECT_TRUE(contains(found[0].observed, "it is memfd")) << found[0].observed;
}

// The device status over a session: set by SET_STATUS with STATUS acked, inferred without it.
TEST(CheckLifecycle, InferredWithoutStatusSetWithIt) {
  const uint64_t no_status = kProtocol & ~feature_mask(PF::STATUS);
  Session inferred;
  inferred.healthy(no_status);
  inferred.send("GET_VRING_BASE", test::vring_state(0, 0));
  inferred.answer("GET_VRING_BASE", test::vring_state(0, 0));
  const MessageRef reset = inferred.send("RESET_DEVICE");
  const auto& steps = inferred.checker.lifecycle();
  ASSERT_EQ(steps.size(), 3u);
  EXPECT_EQ(steps[0].status, 0xb);
  EXPECT_TRUE(steps[0].inferred);
  EXPECT_EQ(steps[1].status, 0xf);
  EXPECT_EQ(steps[2].status, 0);
  EXPECT_EQ(steps[2].ref, reset);

  Session told;
  told.healthy();
  told.send("SET_STATUS", test::u64_payload(0xb));
  const MessageRef ok = told.send("SET_STATUS", test::u64_payload(0xf));
  told.send("SET_STATUS", test::u64_payload(0));
  const auto& set = told.checker.lifecycle();
  ASSERT_EQ(set.size(), 3u);
  EXPECT_EQ(set[1].status, 0xf);
  EXPECT_EQ(set[1].ref, ok);
  EXPECT_FALSE(set[1].inferred);
  EXPECT_EQ(set[2].status, 0);
}

}  // namespace
}  // namespace vhs
