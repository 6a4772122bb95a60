// gen_capture: writes a big synthetic but realistic vhost-user capture for GUI work and
// benchmarks. Each session follows QEMU's vhost-user-blk start-up (features, protocol features,
// back-end channel, memory table, inflight buffer, per-queue setup, all acked with REPLY_ACK),
// then a steady state of what a running guest causes on the socket (interrupt masking via
// SET_VRING_CALL, queue stop/start cycles with GET_VRING_BASE, config-change notifications on the
// back-end channel). A few findings are planted at a fixed rate (wrong payload size, a failed ack,
// bad reply flags, a feature acked without an offer) and the last session ends with a request
// that is never answered (a hang). Deterministic for a given --seed.
//
// With --mix the steady state is what a busy device under `record --interpose-notify` writes:
// mostly kick and call notification records (every queue's eventfds interposed when it starts,
// torn down when GET_VRING_BASE stops it), RingState samples whose indexes follow the kicks and
// calls, and the control messages above in between, in the given proportions.
//
//   gen_capture OUT.pcap [--messages N] [--sessions S] [--queues Q] [--seed X]
//                        [--mix NOTIFY:RING:MESSAGE]
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "captures/format/capture_file.hpp"
#include "decoders/vhost_user/features.hpp"
#include "decoders/vhost_user/registry.hpp"
#include "decoders/virtio/notify_record.hpp"
#include "decoders/virtio/ring_snapshot.hpp"
#include "tools/payload_bytes.hpp"

namespace {

using vhs::Channel;
using vhs::Direction;
using vhs::FdInfo;
using vhs::FdKind;
using vhs::Record;
using vhs::RecordKind;
using vhs::tools::Bytes;
using vhs::tools::put32;
using vhs::tools::put64;
using vhs::tools::u64;
using vhs::tools::vring_state;

constexpr uint32_t kReq = 0x1, kNeedReply = 0x9, kReply = 0x5;

struct Rng {
  uint64_t s;
  uint64_t next() {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return s;
  }
  uint64_t below(uint64_t n) { return next() % n; }
};

uint32_t code(std::string_view name) {
  const vhs::RequestInfo* info = vhs::find_request_by_name(name);
  if (!info) {
    std::fprintf(stderr, "gen_capture: the registry has no request %.*s\n",
                 static_cast<int>(name.size()), name.data());
    std::exit(1);
  }
  return info->number;
}

struct Region {
  uint64_t gpa, size, uva, offset;
};

// Feature words of the simulated back-end (qemu-storage-daemon-like vhost-user-blk).
uint64_t bit(unsigned b) { return uint64_t{1} << b; }
const uint64_t kOffered = bit(32) | bit(30) | bit(29) | bit(28) | bit(1) | bit(2) | bit(6) |
                          bit(9) | bit(10) | bit(12) | bit(13) | bit(14);
const uint64_t kAcked =
    bit(32) | bit(30) | bit(29) | bit(28) | bit(1) | bit(2) | bit(6) | bit(9) | bit(10) | bit(12);
const uint64_t kProtoOffered =
    bit(0) | bit(1) | bit(3) | bit(5) | bit(9) | bit(10) | bit(11) | bit(12) | bit(13) | bit(16);
const uint64_t kProtoAcked =
    bit(0) | bit(1) | bit(3) | bit(5) | bit(9) | bit(10) | bit(12) | bit(13);

// Relative weights of the steady-state steps: a notification record, a ring-state sample, a
// control-message exchange. All zero but `message`: the control-plane-only capture.
struct Mix {
  uint64_t notify = 0, ring = 0, message = 1;
  uint64_t total() const { return notify + ring + message; }
  bool data_plane() const { return notify + ring > 0; }
};

constexpr uint16_t kQueueSize = 256;
// A kick makes at most this many buffers available, and the driver never has more in flight.
constexpr uint16_t kMaxKickBatch = 4;
constexpr uint16_t kMaxInFlight = 64;

// One queue as the simulated driver and device see it: split ring indexes (free-running u16).
struct QueueRing {
  uint16_t avail = 0, used = 0;
  bool interposed = false;
};

class Generator {
 public:
  Generator(vhs::CaptureWriter& w, uint64_t seed, uint32_t queues, Mix mix)
      : w_(w), rng_{seed | 1}, queues_(queues), mix_(mix), rings_(queues) {}

  uint64_t written() const { return written_; }

  void session(uint32_t id, uint64_t budget, bool last, bool bad_features) {
    session_ = id;
    note(RecordKind::Connect, Direction::ToBackend,
         "front-end connected: qemu-system-x86_64 (vhost-user-blk-pci)");
    startup(bad_features);
    const uint64_t end = written_ + budget;
    while (written_ + 16 < end) {
      if (!mix_.data_plane()) {
        steady();
        continue;
      }
      const uint64_t pick = rng_.below(mix_.total());
      if (pick < mix_.notify)
        notification();
      else if (pick < mix_.notify + mix_.ring)
        ring_sample();
      else
        steady();
    }
    if (last) {
      // The hang: QEMU stops queue 0 and waits for GET_VRING_BASE forever.
      send(Channel::Frontend, "GET_VRING_BASE", kReq, vring_state(0, 0));
      gap(2'000'000'000);
      note(RecordKind::Error, Direction::ToBackend,
           "front-end waited 2.0 s for GET_VRING_BASE; capture stopped");
    } else {
      gap(50'000'000);
      note(RecordKind::Disconnect, Direction::ToBackend, "front-end closed the connection");
      gap(300'000'000);
    }
  }

 private:
  void gap(uint64_t ns) { t_ += ns; }
  void small_gap() { t_ += 5'000 + rng_.below(80'000); }

  void emit(Record& r) {
    r.session = session_;
    r.timestamp_ns = t_;
    w_.write(r);
    ++written_;
  }

  void note(RecordKind kind, Direction dir, std::string_view text) {
    Record r;
    r.kind = kind;
    r.direction = dir;
    r.bytes.assign(text.begin(), text.end());
    emit(r);
  }

  void raw(Channel ch, Direction dir, uint32_t request, uint32_t flags, const Bytes& payload,
           std::vector<FdInfo> fds = {}, uint32_t size_override = UINT32_MAX) {
    Record r;
    r.kind = RecordKind::Message;
    r.channel = ch;
    r.direction = dir;
    put32(r.bytes, request);
    put32(r.bytes, flags);
    put32(r.bytes,
          size_override != UINT32_MAX ? size_override : static_cast<uint32_t>(payload.size()));
    r.bytes.insert(r.bytes.end(), payload.begin(), payload.end());
    r.fds = std::move(fds);
    emit(r);
  }

  // A request from the channel's sender; with NEED_REPLY (or an intrinsic reply) the answer
  // follows after a realistic back-end latency.
  void send(Channel ch, std::string_view name, uint32_t flags, const Bytes& payload,
            std::vector<FdInfo> fds = {}) {
    small_gap();
    const Direction dir = vhs::request_direction(ch);
    raw(ch, dir, code(name), flags, payload, std::move(fds));
  }
  void answer(Channel ch, std::string_view name, const Bytes& payload, std::vector<FdInfo> fds = {},
              uint32_t flags = kReply) {
    t_ += 8'000 + rng_.below(60'000) +
          (rng_.below(500) == 0 ? 3'000'000 : 0);  // now and then a slow one
    const Direction dir = ch == Channel::Frontend ? Direction::ToFrontend : Direction::ToBackend;
    raw(ch, dir, code(name), flags, payload, std::move(fds));
  }
  void acked(std::string_view name, const Bytes& payload, std::vector<FdInfo> fds = {}) {
    send(Channel::Frontend, name, kNeedReply, payload, std::move(fds));
    // A planted failure now and then: the back-end refuses (non-zero ack).
    answer(Channel::Frontend, name, u64(rng_.below(20000) == 0 ? 1 : 0));
  }

  // Every eventfd is a file on the kernel's one anonymous inode: fstat gives all of them the same
  // st_ino, so the recorder's descriptions repeat (blk-boot.pcap shows inode 1038 each time).
  static FdInfo eventfd() { return FdInfo{FdKind::Eventfd, kAnonInode, 0, "anon_inode:[eventfd]"}; }
  static constexpr uint64_t kAnonInode = 1038;
  static FdInfo memfd(uint64_t size, const char* name) {
    return FdInfo{FdKind::Memfd, 9000, size, name};
  }

  void startup(bool bad_features) {
    send(Channel::Frontend, "GET_FEATURES", kReq, {});
    answer(Channel::Frontend, "GET_FEATURES", u64(kOffered));
    send(Channel::Frontend, "GET_PROTOCOL_FEATURES", kReq, {});
    answer(Channel::Frontend, "GET_PROTOCOL_FEATURES", u64(kProtoOffered));
    send(Channel::Frontend, "SET_PROTOCOL_FEATURES", kReq, u64(kProtoAcked));
    send(Channel::Frontend, "GET_QUEUE_NUM", kReq, {});
    answer(Channel::Frontend, "GET_QUEUE_NUM", u64(queues_));
    acked("SET_BACKEND_REQ_FD", {}, {FdInfo{FdKind::Socket, 7001, 0, "socket:[7001]"}});
    acked("SET_OWNER", {});
    send(Channel::Frontend, "GET_FEATURES", kReq, {});
    answer(Channel::Frontend, "GET_FEATURES", u64(kOffered));
    for (uint32_t q = 0; q < queues_; ++q) acked("SET_VRING_CALL", u64(q), {eventfd()});
    Bytes cfg;
    put32(cfg, 0);
    put32(cfg, 60);
    put32(cfg, 0);
    cfg.resize(12 + 60, 0);
    send(Channel::Frontend, "GET_CONFIG", kReq, cfg);
    Bytes blk = cfg;
    put64(blk, 0);
    blk.resize(12);
    put64(blk, 2 * 1024 * 1024 * 2);  // capacity: 2 GiB in 512-byte sectors
    put32(blk, 0);                    // size_max
    put32(blk, 128);                  // seg_max
    blk.resize(12 + 20, 0);
    put32(blk, 512);  // blk_size
    blk.resize(12 + 34, 0);
    blk.push_back(static_cast<uint8_t>(queues_));
    blk.push_back(0);
    blk.resize(12 + 60, 0);
    answer(Channel::Frontend, "GET_CONFIG", blk);

    // The guest driver starts the device.
    gap(400'000'000);
    acked("SET_FEATURES",
          u64(bad_features ? kAcked | bit(34) : kAcked));  // RING_PACKED was never offered
    Bytes table;
    const Region regions[2] = {{0, 2ull << 30, 0x7f3a40000000, 0},
                               {4ull << 30, 2ull << 30, 0x7f3ac0000000, 2ull << 30}};
    put32(table, 2);
    put32(table, 0);
    for (const Region& r : regions) {
      put64(table, r.gpa);
      put64(table, r.size);
      put64(table, r.uva);
      put64(table, r.offset);
    }
    acked("SET_MEM_TABLE", table,
          {memfd(4ull << 30, "memfd:pc.ram"), memfd(4ull << 30, "memfd:pc.ram")});
    Bytes inflight;
    put64(inflight, 0);
    put64(inflight, 0);
    inflight.push_back(static_cast<uint8_t>(queues_));
    inflight.push_back(0);
    inflight.push_back(0);
    inflight.push_back(1);  // queue_size 256
    inflight.resize(24, 0);
    send(Channel::Frontend, "GET_INFLIGHT_FD", kReq, inflight);
    Bytes inflight_reply = inflight;
    std::memset(inflight_reply.data(), 0, 16);
    inflight_reply[1] = 0x40;  // mmap_size 0x4000
    answer(Channel::Frontend, "GET_INFLIGHT_FD", inflight_reply,
           {memfd(0x4000, "memfd:vhost-inflight")});
    acked("SET_INFLIGHT_FD", inflight_reply, {memfd(0x4000, "memfd:vhost-inflight")});
    for (uint32_t q = 0; q < queues_; ++q) start_queue(q, 0);
  }

  void start_queue(uint32_t q, uint32_t base) {
    acked("SET_VRING_NUM", vring_state(q, 256));
    acked("SET_VRING_BASE", vring_state(q, base));
    Bytes addr;
    const uint64_t ring = 0x7f3a40000000 + 0x10000000 + uint64_t{q} * 0x10000;
    put32(addr, q);
    put32(addr, 0);
    put64(addr, ring);           // desc
    put64(addr, ring + 0x2000);  // used
    put64(addr, ring + 0x1000);  // avail
    put64(addr, 0x10000000 + uint64_t{q} * 0x10000 + 0x2000);
    acked("SET_VRING_ADDR", addr);
    acked("SET_VRING_KICK", u64(q), {eventfd()});
    acked("SET_VRING_CALL", u64(q), {eventfd()});
    acked("SET_VRING_ENABLE", vring_state(q, 1));
    if (mix_.data_plane()) interpose(q, base);
  }

  // --interpose-notify: the proxy set up its own eventfd pair for the queue's kick and call.
  void interpose(uint32_t q, uint32_t base) {
    rings_[q] = QueueRing{static_cast<uint16_t>(base), static_cast<uint16_t>(base), true};
    for (auto source : {vhs::NotifySource::Kick, vhs::NotifySource::Call})
      notify_record(q, source, vhs::NotifyEvent::Interposed, 0, {eventfd(), eventfd()});
  }
  void teardown(uint32_t q) {
    if (!rings_[q].interposed) return;
    rings_[q].interposed = false;
    for (auto source : {vhs::NotifySource::Kick, vhs::NotifySource::Call})
      notify_record(q, source, vhs::NotifyEvent::Closed, 0);
  }

  void notify_record(uint32_t q, vhs::NotifySource source, vhs::NotifyEvent event, uint64_t count,
                     std::vector<FdInfo> fds = {}) {
    Record r;
    r.kind = RecordKind::Notify;
    r.channel = Channel::Frontend;
    r.direction = source == vhs::NotifySource::Kick ? Direction::ToBackend : Direction::ToFrontend;
    r.bytes = vhs::encode_notify({source, event, static_cast<uint16_t>(q), count});
    r.fds = std::move(fds);
    emit(r);
  }

  // A busy device: the driver kicks after making buffers available, the device calls after
  // using some. Gaps of a few microseconds: 200k notifications a second over all queues.
  void notification() {
    const uint32_t q = static_cast<uint32_t>(rng_.below(queues_));
    QueueRing& ring = rings_[q];
    if (!ring.interposed) return;
    t_ += 1'000 + rng_.below(8'000);
    const auto in_flight = static_cast<uint16_t>(ring.avail - ring.used);
    const bool kick = in_flight == 0 || (in_flight < kMaxInFlight && rng_.below(2) == 0);
    if (kick) {
      ring.avail = static_cast<uint16_t>(ring.avail + 1 + rng_.below(kMaxKickBatch));
      notify_record(q, vhs::NotifySource::Kick, vhs::NotifyEvent::Relayed, 1);
    } else {
      ring.used = static_cast<uint16_t>(ring.used + 1 + rng_.below(in_flight));
      notify_record(q, vhs::NotifySource::Call, vhs::NotifyEvent::Relayed, 1);
    }
  }

  // The proxy's sampler: one RingState record for a queue whose indexes moved.
  void ring_sample() {
    const uint32_t q = static_cast<uint32_t>(rng_.below(queues_));
    const QueueRing& ring = rings_[q];
    if (!ring.interposed) return;
    t_ += 1'000 + rng_.below(4'000);
    vhs::RingSnapshot snap;
    snap.queue = q;
    snap.size = kQueueSize;
    snap.event_idx = true;
    snap.indices_ok = true;
    snap.avail_idx = ring.avail;
    snap.used_idx = ring.used;
    snap.used_event = ring.used;
    snap.avail_event = ring.avail;
    snap.inflight = static_cast<uint16_t>(ring.avail - ring.used);
    for (uint16_t i = ring.used; i != ring.avail; ++i)
      snap.heads.push_back(static_cast<uint16_t>(i % kQueueSize));
    Record r;
    r.kind = RecordKind::RingState;
    r.channel = Channel::Frontend;
    r.direction = Direction::ToBackend;
    r.bytes = vhs::encode_ring_snapshot(snap);
    emit(r);
  }

  void steady() {
    const uint64_t dice = rng_.below(1000);
    const uint32_t q = static_cast<uint32_t>(rng_.below(queues_));
    gap(rng_.below(200'000));
    if (rng_.below(8000) == 0) {
      // Planted: a SET_VRING_NUM whose payload is 4 bytes (size-mismatch) ...
      small_gap();
      raw(Channel::Frontend, Direction::ToBackend, code("SET_VRING_NUM"), kNeedReply,
          vring_state(q, 256), {}, 4);
      answer(Channel::Frontend, "SET_VRING_NUM", u64(0));
    } else if (rng_.below(8000) == 0) {
      // ... and an ack with NEED_REPLY still set (QEMU rejects such replies).
      send(Channel::Frontend, "SET_VRING_ENABLE", kNeedReply, vring_state(q, 1));
      answer(Channel::Frontend, "SET_VRING_ENABLE", u64(0), {}, kReply | 0x8);
    } else if (dice < 700) {
      // Interrupt masking: QEMU swaps the call fd (masked notifier <-> guest irqfd).
      acked("SET_VRING_CALL", u64(q), {eventfd()});
    } else if (dice < 820) {
      // Queue stop/start (device reset by the guest, or a migration step).
      send(Channel::Frontend, "GET_VRING_BASE", kReq, vring_state(q, 0));
      // The device stops with every buffer used: the ring's used index is the new base.
      const uint32_t base =
          mix_.data_plane() ? rings_[q].avail : static_cast<uint32_t>(rng_.below(65536));
      teardown(q);
      rings_[q].used = rings_[q].avail;
      answer(Channel::Frontend, "GET_VRING_BASE", vring_state(q, base));
      start_queue(q, base);
    } else if (dice < 900) {
      // The back-end reports a capacity change; QEMU acks and reads the config again.
      send(Channel::Backend, "BACKEND_CONFIG_CHANGE_MSG", kNeedReply, {});
      answer(Channel::Backend, "BACKEND_CONFIG_CHANGE_MSG", u64(0));
      Bytes cfg;
      put32(cfg, 0);
      put32(cfg, 8);
      put32(cfg, 0);
      cfg.resize(20, 0);
      send(Channel::Frontend, "GET_CONFIG", kReq, cfg);
      Bytes reply = cfg;
      reply.resize(12);
      put64(reply, (2ull + rng_.below(4)) * 1024 * 1024 * 2);
      answer(Channel::Frontend, "GET_CONFIG", reply);
    } else {
      acked("SET_VRING_ENABLE", vring_state(q, static_cast<uint32_t>(rng_.below(2))));
    }
  }

  vhs::CaptureWriter& w_;
  Rng rng_;
  uint32_t queues_;
  Mix mix_;
  std::vector<QueueRing> rings_;
  uint32_t session_ = 0;
  uint64_t t_ = 1'767'225'600'000'000'000ull;  // 2026-01-01 00:00:00 UTC
  uint64_t written_ = 0;
};

// "N:R:M" weights, or "busy".
bool parse_mix(std::string_view text, Mix& mix) {
  if (text == "busy") text = "90:2:8";
  uint64_t w[3] = {};
  for (int k = 0; k < 3; ++k) {
    const size_t colon = text.find(':');
    if ((colon == std::string_view::npos) != (k == 2)) return false;
    const std::string part(text.substr(0, colon));
    char* end = nullptr;
    w[k] = std::strtoull(part.c_str(), &end, 10);
    if (part.empty() || *end != 0 || w[k] > 1'000'000) return false;
    if (k < 2) text.remove_prefix(colon + 1);
  }
  mix = Mix{w[0], w[1], w[2]};
  return mix.total() > 0;
}

int usage() {
  std::fprintf(stderr,
               "usage: gen_capture OUT.pcap [--messages N] [--sessions S] [--queues Q] [--seed X]\n"
               "                            [--mix NOTIFY:RING:MESSAGE]\n"
               "  writes about N records (default 1000000) over S sessions (default 4) of a\n"
               "  Q-queue vhost-user-blk device (default 4); --mix weighs the steady state's\n"
               "  notification records, ring-state samples and control messages (default 0:0:1,\n"
               "  'busy' = 90:2:8, what a busy device under record --interpose-notify writes)\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string out;
  uint64_t messages = 1'000'000, sessions = 4, queues = 4, seed = 42;
  Mix mix;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    auto value = [&](uint64_t& v) {
      if (i + 1 >= argc) return false;
      char* end = nullptr;
      v = std::strtoull(argv[++i], &end, 0);
      return *end == 0;
    };
    if (a == "--messages") {
      if (!value(messages) || messages < 100) return usage();
    } else if (a == "--sessions") {
      if (!value(sessions) || sessions == 0 || sessions > 10000) return usage();
    } else if (a == "--queues") {
      if (!value(queues) || queues == 0 || queues > 64) return usage();
    } else if (a == "--seed") {
      if (!value(seed)) return usage();
    } else if (a == "--mix") {
      if (i + 1 >= argc || !parse_mix(argv[++i], mix)) return usage();
    } else if (a.starts_with("-") || !out.empty()) {
      return usage();
    } else {
      out = std::string(a);
    }
  }
  if (out.empty()) return usage();
  std::string error;
  auto writer = vhs::CaptureWriter::create(out, error);
  if (!writer) {
    std::fprintf(stderr, "gen_capture: %s\n", error.c_str());
    return 1;
  }
  Generator g(*writer, seed, static_cast<uint32_t>(queues), mix);
  for (uint64_t s = 1; s <= sessions; ++s) {
    const uint64_t budget = (messages - g.written()) / (sessions - s + 1);
    g.session(static_cast<uint32_t>(s), budget, s == sessions, s == 2);
  }
  if (!writer->flush()) {
    std::fprintf(stderr, "gen_capture: %s\n", writer->error().c_str());
    return 1;
  }
  std::printf("gen_capture: %llu records in %llu sessions written to %s\n",
              static_cast<unsigned long long>(writer->records_written()),
              static_cast<unsigned long long>(sessions), out.c_str());
  return 0;
}
