// Cost of live ring sampling: the proxy's RingSampler, fed the same control messages a front-end
// sends, samples 8 busy virtio-blk queues laid out in memfd guest memory (mapped read-only by the
// sampler, like the relay does). Between two samples each queue's device completes one request
// and the driver publishes one, so the in-flight count stays at --inflight and every sample is a
// change (snapshot, compare, encode: the relay's worst case); an idle leg samples unchanged rings.
// Split and packed layouts. The baseline, measured in the same run, copies the bytes a minimal
// sampler would have to read (every ring's index words and in-flight entries). Prints ns per ring
// per sample, the ratio to the baseline, and the CPU share at the default 50 ms interval.
// The follow leg (split only) is what `--interpose-notify` adds before each relayed kick or call:
// RingSampler::follow of one queue after its device completed one request and its driver
// published one (a consistent cut, the new avail and used entries, the new chain walked).
#include <sched.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "bench/bench_process.hpp"
#include "decoders/vhost_user/features.hpp"
#include "decoders/vhost_user/registry.hpp"
#include "decoders/vhost_user/wire.hpp"
#include "decoders/virtio/ring_detail.hpp"
#include "decoders/virtio/ring_snapshot.hpp"
#include "proxy/ring_sampler.hpp"

namespace {
using namespace vhs::bench;

using vhs::DeviceKind;

constexpr uint32_t kQueues = 8;
constexpr uint16_t kQueueSize = 256;
constexpr uint32_t kChainLen = 3;     // blk: header, data, status
constexpr uint32_t kChainSlots = 80;  // distinct chains per queue (3 descriptors each, split)
constexpr uint64_t kGuestSize = 16ull << 20;
constexpr uint64_t kGpa = 0, kUva = 0x7f0000000000ull;
constexpr uint64_t kRingArea =
    0x10000;  // per queue: desc +0, driver/avail +0x1000, device/used +0x2000
constexpr uint64_t kBufArea = 0x100000;  // per queue: 0x40000 of request buffers
constexpr double kIntervalNs = 50e6;     // the default --sample-interval

struct Options {
  uint64_t samples = 20000;
  uint32_t inflight = 32;
  int rounds = 3;
};

Options parse_options(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> uint64_t {
      if (i + 1 >= argc) die(a + " needs a value");
      return std::strtoull(argv[++i], nullptr, 10);
    };
    if (a == "--samples")
      o.samples = std::max<uint64_t>(100, value());
    else if (a == "--inflight")
      o.inflight = static_cast<uint32_t>(std::clamp<uint64_t>(value(), 1, 64));
    else if (a == "--rounds")
      o.rounds = static_cast<int>(std::clamp<uint64_t>(value(), 1, 20));
    else if (a == "-h" || a == "--help") {
      std::printf("usage: ring_sample_bench [--samples N] [--inflight K (1..64)] [--rounds R]\n");
      std::exit(0);
    } else
      die("unknown option " + a);
  }
  return o;
}

// The guest: one memfd the benchmark writes as driver and device; the sampler maps it read-only.
struct Guest {
  int fd = -1;
  uint8_t* base = nullptr;
  void put16(uint64_t off, uint16_t v) { std::memcpy(base + off, &v, 2); }
  void put32(uint64_t off, uint32_t v) { std::memcpy(base + off, &v, 4); }
  void put64(uint64_t off, uint64_t v) { std::memcpy(base + off, &v, 8); }
  uint64_t ring(uint32_t q) const { return q * kRingArea; }
  uint64_t header(uint32_t q, uint32_t slot) const {
    return kBufArea + q * 0x40000ull + slot * 0x800ull;
  }
  // A blk READ request header for `slot` (sector = slot * 8).
  void blk_header(uint32_t q, uint32_t slot) {
    put32(header(q, slot), 0);
    put32(header(q, slot) + 4, 0);
    put64(header(q, slot) + 8, slot * 8ull);
  }
};

Guest make_guest() {
  Guest g;
  g.fd = ::memfd_create("vhs-bench-guest", MFD_CLOEXEC);
  if (g.fd < 0 || ::ftruncate(g.fd, static_cast<off_t>(kGuestSize)) != 0)
    die("memfd_create/ftruncate failed");
  void* p = ::mmap(nullptr, kGuestSize, PROT_READ | PROT_WRITE, MAP_SHARED, g.fd, 0);
  if (p == MAP_FAILED) die("mmap failed");
  g.base = static_cast<uint8_t*>(p);
  return g;
}

void store_le32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
void store_le64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

std::vector<uint8_t> message(std::string_view name, const std::vector<uint8_t>& payload) {
  const vhs::RequestInfo* info = vhs::find_request_by_name(name);
  if (info == nullptr) die("registry has no " + std::string(name));
  std::vector<uint8_t> m(vhs::kHeaderSize + payload.size());
  store_le32(m.data(), info->number);
  store_le32(m.data() + 4, vhs::kProtocolVersion);
  store_le32(m.data() + 8, static_cast<uint32_t>(payload.size()));
  std::copy(payload.begin(), payload.end(), m.begin() + vhs::kHeaderSize);
  return m;
}

struct PayloadWriter {
  std::vector<uint8_t> b;
  PayloadWriter& u32(uint32_t v) {
    b.resize(b.size() + 4);
    store_le32(b.data() + b.size() - 4, v);
    return *this;
  }
  PayloadWriter& u64(uint64_t v) {
    b.resize(b.size() + 8);
    store_le64(b.data() + b.size() - 8, v);
    return *this;
  }
};

// Counts what the sampler emits and keeps the last payload (the relay copies it into a record).
class CountingOutput final : public vhs::RingSampler::Output {
 public:
  void ring_state(std::span<const uint8_t> payload) override {
    ++states;
    last.assign(payload.begin(), payload.end());
  }
  void ring_error(std::string_view text) override { die("sampler error: " + std::string(text)); }
  uint64_t states = 0;
  std::vector<uint8_t> last;
};

// Driver and device of 8 queues, split or packed, each with `inflight` READs outstanding.
class Rings {
 public:
  Rings(Guest& g, bool packed, uint32_t inflight) : g_(g), packed_(packed), inflight_(inflight) {
    for (uint32_t q = 0; q < kQueues; ++q) {
      for (uint32_t s = 0; s < kChainSlots; ++s) g_.blk_header(q, s);
      for (uint32_t k = 0; k < inflight_; ++k) publish(q);
    }
  }

  // Sets the sampler up the way QEMU would: features, memory table, then every vring.
  void configure(vhs::RingSampler& sampler, CountingOutput& out) const {
    const uint64_t features =
        (1ull << vhs::kFeatureVersion1) | (packed_ ? 1ull << vhs::kFeatureRingPacked : 0);
    auto send = [&](std::string_view name, PayloadWriter w, std::vector<int> fds = {}) {
      sampler.on_message(vhs::Direction::ToBackend, message(name, w.b), fds, out);
    };
    send("SET_FEATURES", PayloadWriter().u64(features));
    send("SET_MEM_TABLE", PayloadWriter().u32(1).u32(0).u64(kGpa).u64(kGuestSize).u64(kUva).u64(0),
         {g_.fd});
    for (uint32_t q = 0; q < kQueues; ++q) {
      const uint64_t r = kUva + g_.ring(q);
      send("SET_VRING_NUM", PayloadWriter().u32(q).u32(kQueueSize));
      send("SET_VRING_ADDR",
           PayloadWriter().u32(q).u32(0).u64(r).u64(r + 0x2000).u64(r + 0x1000).u64(0));
      send("SET_VRING_BASE", PayloadWriter().u32(q).u32(packed_ ? 0x80008000u : 0));
      send("SET_VRING_KICK", PayloadWriter().u64(q | 0x100), {});  // NOFD: started, polled
    }
  }

  // One step of a busy queue: the device completes the oldest request, the driver adds one.
  void step(uint32_t q) {
    complete(q);
    publish(q);
  }

  // What a minimal sampler reads of queue q: the index words and the in-flight entries.
  size_t copy_essentials(uint32_t q, uint8_t* to) const {
    const uint8_t* r = g_.base + g_.ring(q);
    if (!packed_) {
      std::memcpy(to, r + 0x1000, 4 + 2u * kQueueSize);      // avail flags, idx, ring
      std::memcpy(to + 4 + 2u * kQueueSize, r + 0x2000, 4);  // used flags, idx
      return 8 + 2u * kQueueSize;
    }
    std::memcpy(to, r, 16u * kQueueSize);  // the descriptor ring
    return 16u * kQueueSize;
  }

  uint32_t inflight() const { return inflight_; }

 private:
  struct Queue {
    uint32_t next_slot = 0;        // chain slot of the next request
    uint16_t avail = 0, used = 0;  // split indices
    // packed: driver / device positions and wrap counters, ids in flight (oldest first)
    uint16_t avail_pos = 0, used_pos = 0;
    bool avail_wrap = true, used_wrap = true;
    std::vector<uint16_t> ids;
  };

  uint64_t desc(uint32_t q, uint32_t i) const { return g_.ring(q) + 16ull * i; }

  // Split: addr, len, flags, next. Packed: addr, len, id, flags.
  void write_desc(uint32_t q, uint32_t i, uint64_t addr, uint32_t len, uint16_t id_or_next,
                  uint16_t flags) {
    g_.put64(desc(q, i), kGpa + addr);
    g_.put32(desc(q, i) + 8, len);
    g_.put16(desc(q, i) + (packed_ ? 12 : 14), id_or_next);
    g_.put16(desc(q, i) + (packed_ ? 14 : 12), flags);
  }

  void publish(uint32_t q) {
    Queue& s = queues_[q];
    const uint32_t slot = s.next_slot;
    s.next_slot = (s.next_slot + 1) % kChainSlots;
    const uint64_t hdr = g_.header(q, slot);
    const uint64_t addrs[kChainLen] = {hdr, hdr + 0x200, hdr + 0x7ff};
    const uint32_t lens[kChainLen] = {16, 512, 1};
    if (!packed_) {
      const uint16_t head = static_cast<uint16_t>(slot * kChainLen);
      for (uint32_t j = 0; j < kChainLen; ++j) {
        const uint16_t flags = static_cast<uint16_t>((j + 1 < kChainLen ? vhs::kDescNext : 0) |
                                                     (j > 0 ? vhs::kDescWrite : 0));
        write_desc(q, head + j, addrs[j], lens[j], static_cast<uint16_t>(head + j + 1), flags);
      }
      g_.put16(g_.ring(q) + 0x1000 + 4 + 2u * (s.avail % kQueueSize), head);
      ++s.avail;
      g_.put16(g_.ring(q) + 0x1000 + 2, s.avail);
      return;
    }
    // Packed: the descriptors at the driver's position, AVAIL = wrap and USED = !wrap; the first
    // descriptor's flags are written last, as a driver must.
    const auto id = static_cast<uint16_t>(slot);
    const uint16_t first = s.avail_pos;
    uint16_t first_flags = 0;
    for (uint32_t j = 0; j < kChainLen; ++j) {
      uint16_t flags = static_cast<uint16_t>((j + 1 < kChainLen ? vhs::kDescNext : 0) |
                                             (j > 0 ? vhs::kDescWrite : 0));
      flags |= s.avail_wrap ? vhs::kPackedDescAvail : vhs::kPackedDescUsed;
      if (j == 0) {
        first_flags = flags;
        write_desc(q, s.avail_pos, addrs[j], lens[j], id, 0);
        g_.put16(
            desc(q, s.avail_pos) + 14,
            static_cast<uint16_t>(s.avail_wrap ? vhs::kPackedDescUsed : vhs::kPackedDescAvail));
      } else {
        write_desc(q, s.avail_pos, addrs[j], lens[j], id, flags);
      }
      if (++s.avail_pos == kQueueSize) {
        s.avail_pos = 0;
        s.avail_wrap = !s.avail_wrap;
      }
    }
    g_.put16(desc(q, first) + 14, first_flags);
    s.ids.push_back(id);
  }

  void complete(uint32_t q) {
    Queue& s = queues_[q];
    if (!packed_) {
      const uint16_t head =
          g_.base[g_.ring(q) + 0x1000 + 4 + 2u * (s.used % kQueueSize)] |
          static_cast<uint16_t>(g_.base[g_.ring(q) + 0x1000 + 5 + 2u * (s.used % kQueueSize)] << 8);
      g_.put32(g_.ring(q) + 0x2000 + 4 + 8u * (s.used % kQueueSize), head);
      g_.put32(g_.ring(q) + 0x2000 + 8 + 8u * (s.used % kQueueSize), 513);
      ++s.used;
      g_.put16(g_.ring(q) + 0x2000 + 2, s.used);
      return;
    }
    // Packed: one used descriptor at the device's position (id, AVAIL = USED = wrap), then the
    // position skips the whole chain.
    const uint16_t id = s.ids.front();
    s.ids.erase(s.ids.begin());
    g_.put16(desc(q, s.used_pos) + 12, id);
    g_.put32(desc(q, s.used_pos) + 8, 513);
    g_.put16(desc(q, s.used_pos) + 14,
             s.used_wrap ? static_cast<uint16_t>(vhs::kPackedDescAvail | vhs::kPackedDescUsed) : 0);
    s.used_pos = static_cast<uint16_t>(s.used_pos + kChainLen);
    if (s.used_pos >= kQueueSize) {
      s.used_pos = static_cast<uint16_t>(s.used_pos - kQueueSize);
      s.used_wrap = !s.used_wrap;
    }
  }

  Guest& g_;
  bool packed_;
  uint32_t inflight_;
  Queue queues_[kQueues];
};

double ns_since(Clock::time_point t0) {
  return static_cast<double>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count());
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

struct LegResult {
  double sample_ns = 0;    // per ring per sample, busy (every sample a change)
  double idle_ns = 0;      // per ring per sample, unchanged rings
  double baseline_ns = 0;  // per ring: copying what must be read
  double follow_ns = 0;    // per notification: following one queue that moved by one request
  uint64_t states = 0;
};

LegResult run_leg(bool packed, const Options& opt) {
  Guest g = make_guest();
  Rings rings(g, packed, opt.inflight);
  vhs::RingSampler sampler(DeviceKind::Blk);
  CountingOutput out;
  rings.configure(sampler, out);
  if (!sampler.any_started()) die("the sampler started no ring");

  // The sampler must see what the benchmark laid out: every queue with `inflight` READs.
  sampler.sample(out);
  const uint64_t before = out.states;
  for (uint32_t q = 0; q < kQueues; ++q) rings.step(q);
  sampler.sample(out);
  if (out.states - before != kQueues) die("a busy sample did not change every ring");
  auto snap = vhs::decode_ring_snapshot(out.last);
  if (!snap || snap->inflight != opt.inflight || !snap->oldest || !snap->oldest->detail_ok ||
      !snap->faults.empty())
    die(std::string(packed ? "packed" : "split") +
        " layout misread: " + (snap ? vhs::describe_ring_snapshot(*snap) : "undecodable"));

  // Each timing covers one sampling pass over the 8 queues; the median over passes keeps other
  // load on the CPU (preemption in the middle of a pass) out of the figure.
  LegResult r;
  std::vector<uint8_t> scratch(16u * kQueueSize + 1024);
  uint64_t sink = 0;
  std::vector<double> busy, idle, base, follow;
  for (uint64_t i = 0; i < opt.samples; ++i) {
    if (!packed) {  // packed rings are not followed (split_follower.hpp)
      double pass = 0;
      for (uint32_t q = 0; q < kQueues; ++q) {
        rings.step(q);
        const auto t0 = Clock::now();
        sampler.follow(q);
        pass += ns_since(t0);
      }
      follow.push_back(pass);
    }
    for (uint32_t q = 0; q < kQueues; ++q) rings.step(q);
    auto t0 = Clock::now();
    sampler.sample(out);
    busy.push_back(ns_since(t0));
    t0 = Clock::now();
    sampler.sample(out);  // nothing moved since: snapshot + compare only
    idle.push_back(ns_since(t0));
    t0 = Clock::now();
    for (uint32_t q = 0; q < kQueues; ++q)
      sink += rings.copy_essentials(q, scratch.data()) + scratch[q];
    base.push_back(ns_since(t0));
  }
  if (sink == 0) die("baseline copied nothing");
  if (out.states < opt.samples * kQueues) die("busy samples were not all changes");
  r.sample_ns = median(busy) / kQueues;
  r.idle_ns = median(idle) / kQueues;
  r.baseline_ns = median(base) / kQueues;
  r.follow_ns = follow.empty() ? 0 : median(follow) / kQueues;
  // The follower judged every completion (len 513 = the chain's writable bytes): a fault here
  // would be the follower misreading a correct ring.
  sampler.sample(out);
  snap = vhs::decode_ring_snapshot(out.last);
  if (!snap || !snap->faults.empty())
    die("the follower flagged a correct ring: " +
        (snap ? vhs::describe_ring_snapshot(*snap) : std::string("undecodable")));
  r.states = out.states;
  ::munmap(g.base, kGuestSize);
  ::close(g.fd);
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  const Options opt = parse_options(argc, argv);
  pin_to_cpu0();
  std::printf(
      "ring_sample_bench: %u queues x %u entries, %u blk READs in flight each, %llu samples x %d "
      "rounds, CPU 0\n",
      kQueues, kQueueSize, opt.inflight, static_cast<unsigned long long>(opt.samples), opt.rounds);
  std::printf("%-7s %12s %12s %14s %10s %16s %11s %10s\n", "layout", "busy ns", "idle ns",
              "baseline ns", "x baseline", "CPU @50ms, 8 q", "follow ns", "x baseline");
  bool ok = true;
  for (bool packed : {false, true}) {
    std::vector<double> busy, idle, base, follow;
    for (int round = 0; round < opt.rounds; ++round) {
      const LegResult r = run_leg(packed, opt);
      busy.push_back(r.sample_ns);
      idle.push_back(r.idle_ns);
      base.push_back(r.baseline_ns);
      follow.push_back(r.follow_ns);
    }
    const double b = median(busy), i = median(idle), c = median(base), f = median(follow);
    // Every queue sampled once per interval, each sample a change: the busy figure.
    const double cpu = 100.0 * b * kQueues / kIntervalNs;
    std::printf("%-7s %12.0f %12.0f %14.0f %10.2f %15.4f%%", packed ? "packed" : "split", b, i, c,
                b / c, cpu);
    if (packed)
      std::printf(" %11s %10s\n", "-", "-");
    else
      std::printf(" %11.0f %10.2f\n", f, f / c);
    ok = ok && cpu < 1.0;
  }
  std::printf(
      "ns are per ring per sample (median pass, median of rounds); follow ns per notification "
      "relayed with --interpose-notify; target: CPU share < 1%% of one core: %s\n",
      ok ? "met" : "NOT met");
  return 0;
}
