#include "proxy/exercise/net_bench.hpp"

#include <algorithm>
#include <unordered_map>
#include <unordered_set>

#include <fmt/format.h>

#include "proxy/exercise/bench_stats.hpp"
#include "proxy/exercise/net_frames.hpp"
#include "proxy/exercise/net_workload.hpp"

namespace vhs::exercise {
namespace {

using Clock = std::chrono::steady_clock;

// A frame not back after this long is counted lost (and counted back if it still comes): a
// forwarder answers in microseconds, but on a loaded machine it may not run for a while.
constexpr std::chrono::milliseconds kLossWait{500};
// The probe's frames: skipped when one comes back late.
constexpr uint32_t kProbeSeqs = 0x70000000;

struct Outstanding {
  std::vector<uint8_t> frame;
  Clock::time_point posted;
  bool counted_lost = false;
};

// Bytes of `got` that differ from `sent` as the back-end returns it: unchanged, or with the
// destination and source MAC addresses exchanged (testpmd macswap).
uint64_t echo_mismatched_bytes(std::span<const uint8_t> got, std::span<const uint8_t> sent,
                               bool swapped) {
  if (!swapped || got.size() < 12 || sent.size() < 12) return mismatched_bytes(got, sent);
  return mismatched_bytes(got.subspan(0, 6), sent.subspan(6, 6)) +
         mismatched_bytes(got.subspan(6, 6), sent.subspan(0, 6)) +
         mismatched_bytes(got.subspan(12), sent.subspan(12));
}

bool looks_swapped(std::span<const uint8_t> got, std::span<const uint8_t> sent) {
  return got.size() >= 12 && sent.size() >= 12 &&
         std::equal(got.begin(), got.begin() + 6, sent.begin() + 6) &&
         std::equal(got.begin() + 6, got.begin() + 12, sent.begin());
}

// One queue pair across the frame sizes: the receive buffers stay posted from one size to the
// next (they hold any frame), so the device never goes without.
class PairBench {
 public:
  PairBench(WorkloadContext& ctx, unsigned pair)
      : ctx_(ctx),
        framing_(ctx.virtio_features),
        pair_(pair),
        rx_(2 * pair),
        tx_(2 * pair + 1),
        buffer_bytes_(framing_.whole_rx_buffer_bytes()),
        rx_slots_(ctx.io.queue_size(rx_) / framing_.descriptors_per_chain()),
        tx_slots_(ctx.io.queue_size(tx_) / framing_.descriptors_per_chain()) {}

  NetBenchFigure run(uint32_t frame_size, std::chrono::milliseconds each) {
    NetBenchFigure f;
    f.queue_pair = pair_;
    f.frame_size = frame_size;
    f.ring_bytes = frame_size - kEthernetFcsBytes;
    // Never more in flight than receive buffers are posted: a forwarder drops what it has no
    // buffer for, and that would be the bench's loss, not the back-end's.
    f.window = std::max(1u, std::min(rx_slots_, tx_slots_) / 2);
    if (!ready_) {
      if (std::string e = wait_until_net_forwarding(ctx_, framing_, rx_, tx_, buffer_bytes_);
          !e.empty())
        return stop(f, e);
      if (std::string e = post_rx(rx_slots_); !e.empty()) return stop(f, e);
      ready_ = true;
    }
    // What an earlier run counted lost may still come: not this run's, and not unexpected.
    for (const auto& entry : outstanding_) earlier_lost_.insert(entry.first);
    outstanding_.clear();
    in_flight_ = 0;
    latencies_.clear();

    start_ = Clock::now();
    if (std::string e = send(f, f.window); !e.empty()) return stop(f, e);
    // Frames go out again in batches, so a kick (and a post) serves several.
    const unsigned batch = std::max(1u, f.window / 4);
    unsigned returned = 0, rx_used = 0;
    while (true) {
      const bool timed_out = Clock::now() - start_ >= each;
      if (timed_out && in_flight_ == 0) break;
      if (!timed_out && (returned >= batch || in_flight_ == 0)) {
        if (std::string e = post_rx(rx_used); !e.empty()) return stop(f, e);
        if (std::string e = send(f, f.window - in_flight_); !e.empty()) return stop(f, e);
        returned = rx_used = 0;
      }
      auto back = ctx_.io.wait_used(rx_, 1, kLossWait);
      if (!back) {
        // Nothing for kLossWait: what is in flight is lost unless it still comes.
        for (auto& [seq, o] : outstanding_)
          if (!o.counted_lost) {
            o.counted_lost = true;
            ++f.lost;
          }
        in_flight_ = 0;
        continue;
      }
      unsigned buffers = 0;
      if (std::string e = receive(f, back.value->front(), buffers); !e.empty()) return stop(f, e);
      rx_used += buffers;
      ++returned;
    }
    f.seconds = std::chrono::duration<double>(Clock::now() - start_).count();
    // The receive buffers of this run go back for the next; the transmitted chains are reaped.
    if (std::string e = post_rx(rx_used); !e.empty()) return stop(f, e);
    if (std::string e = reap_tx(tx_outstanding_); !e.empty()) return stop(f, e);
    return finish(f);
  }

 private:
  NetBenchFigure& stop(NetBenchFigure& f, const std::string& error) {
    f.error = error;
    f.seconds = std::chrono::duration<double>(Clock::now() - start_).count();
    ready_ = false;  // the rings' state is not known any more
    return finish(f);
  }

  NetBenchFigure& finish(NetBenchFigure& f) {
    f.tx_pps = per_second(f.sent, f.seconds);
    f.rx_pps = per_second(f.received, f.seconds);
    f.tx_gbit_per_s = gbit_per_second(f.sent, f.ring_bytes, f.seconds);
    f.rx_gbit_per_s = gbit_per_second(f.received, f.ring_bytes, f.seconds);
    const LatencyPercentiles l = summarize_latencies(latencies_);
    f.p50_us = l.p50_us;
    f.p99_us = l.p99_us;
    f.p999_us = l.p999_us;
    return f;
  }

  std::string post_rx(unsigned count) {
    if (count == 0) return {};
    const std::vector<ChainRequest> buffers(count, framing_.rx_chain(buffer_bytes_));
    if (auto posted = ctx_.io.post(rx_, buffers); !posted)
      return fmt::format("posting {} receive buffers: {}", count, posted.error);
    return {};
  }

  // Waits for `count` transmitted chains to be used.
  std::string reap_tx(uint64_t count) {
    if (count == 0) return {};
    auto used = ctx_.io.wait_used(tx_, count, ctx_.timeout);
    if (!used) return "transmitted frames not used: " + used.error;
    tx_outstanding_ -= count;
    return {};
  }

  std::string send(NetBenchFigure& f, unsigned count) {
    if (count == 0) return {};
    // A frame that came back was taken from transmitq before, so its chain is used (or about
    // to be): reap those first; wait for more only when the ring is still too full.
    const uint64_t surely_used = tx_outstanding_ - std::min<uint64_t>(tx_outstanding_, in_flight_);
    if (tx_outstanding_ + count > tx_slots_)
      if (std::string e =
              reap_tx(std::max<uint64_t>(surely_used, tx_outstanding_ + count - tx_slots_));
          !e.empty())
        return e;
    std::vector<ChainRequest> chains;
    chains.reserve(count);
    std::vector<uint32_t> seqs;
    for (unsigned i = 0; i < count; ++i) {
      const uint32_t seq = next_seq_++;
      Outstanding o;
      o.frame = build_exercise_frame(seq, f.ring_bytes);
      chains.push_back(framing_.tx_chain(o.frame));
      outstanding_[seq] = std::move(o);
      seqs.push_back(seq);
    }
    const auto now = Clock::now();
    for (uint32_t seq : seqs) outstanding_[seq].posted = now;
    if (auto posted = ctx_.io.post(tx_, chains); !posted)
      return fmt::format("transmitting {} frames: {}", count, posted.error);
    f.sent += count;
    in_flight_ += count;
    tx_outstanding_ += count;
    return {};
  }

  // One returned packet (its first receive buffer in `c`); `buffers` says how many it took.
  std::string receive(NetBenchFigure& f, const ChainCompletion& c, unsigned& buffers) {
    const auto now = Clock::now();
    std::vector<uint8_t> bytes = used_bytes(c);
    const uint32_t header = framing_.header_size();
    if (bytes.size() < header)
      return fmt::format(
          "queue {}: a receive buffer's used length {} is shorter than the {}-byte "
          "virtio_net_hdr",
          rx_, bytes.size(), header);
    buffers = 1;
    if (framing_.mergeable()) buffers = net_header_num_buffers(bytes, header).value_or(1);
    if (buffers == 0) return fmt::format("queue {}: a receive header says num_buffers 0", rx_);
    if (buffers > 1) {
      // VIRTIO "Processing of Incoming Packets": only the first buffer carries the header.
      auto rest = ctx_.io.wait_used(rx_, buffers - 1u, ctx_.timeout);
      if (!rest)
        return fmt::format("a frame spread over num_buffers {}, but the rest did not come: {}",
                           buffers, rest.error);
      for (const auto& more : *rest.value) {
        auto b = used_bytes(more);
        bytes.insert(bytes.end(), b.begin(), b.end());
      }
    }
    const std::span<const uint8_t> frame = std::span(bytes).subspan(header);
    const auto seq = exercise_frame_seq(frame);
    if (seq && *seq >= kProbeSeqs) return {};  // a probe frame, late
    if (seq && earlier_lost_.erase(*seq) > 0) return {};
    auto it = seq ? outstanding_.find(*seq) : outstanding_.end();
    if (it == outstanding_.end()) {
      ++f.unexpected;
      return {};
    }
    Outstanding& o = it->second;
    if (!echo_decided_) {
      swapped_ = looks_swapped(frame, o.frame);
      echo_decided_ = true;
    }
    if (const uint64_t differ = echo_mismatched_bytes(frame, o.frame, swapped_); differ > 0) {
      ++f.mismatched_frames;
      f.mismatched_bytes += differ;
    }
    if (o.counted_lost) {
      --f.lost;  // late, not lost
    } else {
      --in_flight_;
      latencies_.push_back(std::chrono::duration<double, std::micro>(now - o.posted).count());
    }
    ++f.received;
    outstanding_.erase(it);
    return {};
  }

  WorkloadContext& ctx_;
  NetFraming framing_;
  unsigned pair_, rx_, tx_;
  uint32_t buffer_bytes_;
  unsigned rx_slots_, tx_slots_;
  bool ready_ = false;  // probed, and the receive queue full of buffers
  Clock::time_point start_ = Clock::now();
  uint64_t tx_outstanding_ = 0;  // transmitted chains not yet reaped
  unsigned in_flight_ = 0;       // frames sent, not back, not counted lost
  uint32_t next_seq_ = kNetBenchFirstSeq;
  std::unordered_map<uint32_t, Outstanding> outstanding_;
  std::unordered_set<uint32_t> earlier_lost_;
  std::vector<double> latencies_;
  bool echo_decided_ = false, swapped_ = false;
};

}  // namespace

std::vector<NetBenchFigure> run_net_bench(WorkloadContext& ctx, std::chrono::milliseconds each) {
  std::vector<NetBenchFigure> out;
  const unsigned pairs = ctx.io.queue_count() / 2;
  if (pairs == 0) {
    NetBenchFigure f;
    f.error = fmt::format("virtio-net needs receiveq1 and transmitq1; {} queue(s) were set up",
                          ctx.io.queue_count());
    out.push_back(f);
    return out;
  }
  std::vector<PairBench> benches;
  for (unsigned p = 0; p < pairs; ++p) benches.emplace_back(ctx, p);
  for (uint32_t size : kNetBenchFrameSizes)
    for (PairBench& b : benches) {
      out.push_back(b.run(size, each));
      if (!out.back().error.empty()) return out;
    }
  return out;
}

std::string describe_net_bench_figure(const NetBenchFigure& f) {
  std::string s = fmt::format(
      "bench: pair {} frames {:>4} B window {:>2}: TX {:>8.0f} pkt/s {:>6.3f} Gbit/s  RX {:>8.0f} "
      "pkt/s {:>6.3f} Gbit/s  latency p50 {:.1f} µs p99 {:.1f} µs p99.9 {:.1f} µs ({} sent, {} "
      "back, {} lost, {} mismatched bytes in {:.2f} s)",
      f.queue_pair, f.frame_size, f.window, f.tx_pps, f.tx_gbit_per_s, f.rx_pps, f.rx_gbit_per_s,
      f.p50_us, f.p99_us, f.p999_us, f.sent, f.received, f.lost, f.mismatched_bytes, f.seconds);
  if (f.unexpected > 0) s += fmt::format(", {} unexpected", f.unexpected);
  if (!f.error.empty()) s += " — stopped: " + f.error;
  return s;
}

std::string net_bench_figure_fault(const NetBenchFigure& f) {
  const std::string where = fmt::format("pair {}, {}-byte frames: ", f.queue_pair, f.frame_size);
  if (!f.error.empty()) return where + f.error;
  if (f.mismatched_frames > 0)
    return where + fmt::format("{} frames came back with {} bytes not as sent", f.mismatched_frames,
                               f.mismatched_bytes);
  if (f.unexpected > 0)
    return where + fmt::format(
                       "{} frames came back that were not in flight (duplicates or "
                       "never sent)",
                       f.unexpected);
  if (f.received == 0) return where + fmt::format("none of {} frames came back", f.sent);
  return {};
}

}  // namespace vhs::exercise
