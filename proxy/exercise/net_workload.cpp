#include "proxy/exercise/net_workload.hpp"

#include <algorithm>
#include <chrono>
#include <map>
#include <set>
#include <string>

#include "decoders/virtio/ring_detail.hpp"
#include "proxy/exercise/net_frames.hpp"

namespace vhs::exercise {
namespace {

// VIRTIO "Network Device", "Virtqueues": receiveq1 is queue 0, transmitq1 queue 1.
constexpr unsigned kRxQueue = 0;
constexpr unsigned kTxQueue = 1;
// Probe frames (wait_until_forwarding) are numbered apart from the rounds' frames (0.., 1000..).
constexpr uint32_t kProbeSeq = 0x70000000;
constexpr std::chrono::milliseconds kProbeWait{100};

constexpr const char* kWhatTxRx =
    "frames of 60..1514 bytes sent on transmitq1 (queue 1) come back on receiveq1 (queue 0) "
    "byte for byte, one receive buffer each (VIRTIO \"Network Device\", \"Device Operation\")";
constexpr const char* kWhatMrg =
    "the same frames into small receive buffers: the device merges several per frame and "
    "num_buffers says how many (VIRTIO \"Network Device\", VIRTIO_NET_F_MRG_RXBUF)";

const char* echo_text(NetEcho echo) {
  return echo == NetEcho::MacSwapped ? "with the MAC addresses swapped (macswap)"
                                     : "unchanged (io forwarding)";
}

struct Frame {
  uint32_t seq = 0;
  std::vector<uint8_t> bytes;
  uint32_t rx_buffers = 1;  // receive buffers it needs
};

// How one round places its receive buffers.
struct RxLayout {
  uint32_t buffer_bytes = 0;  // writable bytes per receive buffer, header included
  bool merged = false;        // one descriptor per buffer, frames spread over several
};

class NetWorkload {
 public:
  NetWorkload(WorkloadContext& ctx, const NetWorkloadOptions& options)
      : ctx_(ctx),
        options_(options),
        framing_(ctx.virtio_features),
        header_size_(framing_.header_size()),
        mrg_acked_(framing_.mergeable()),
        echo_(options.echo) {}

  std::vector<CheckOutcome> run() {
    std::vector<CheckOutcome> out;
    if (ctx_.io.queue_count() < 2) {
      out.push_back({"net.tx-rx", kWhatTxRx, Verdict::Fail,
                     "virtio-net needs receiveq1 and transmitq1; " +
                         std::to_string(ctx_.io.queue_count()) + " queue(s) were set up"});
      out.push_back({"net.mrg-rxbuf", kWhatMrg, Verdict::Fail, "not run: net.tx-rx failed"});
      return out;
    }

    // With merging the device may still put a whole frame in one buffer when it fits; without,
    // each buffer must hold the largest packet the negotiated offloads allow.
    RxLayout whole;
    whole.merged = mrg_acked_;
    whole.buffer_bytes = framing_.whole_rx_buffer_bytes();
    uint64_t first = ctx_.io.records_written() + 1;
    std::string tx_rx =
        wait_until_net_forwarding(ctx_, framing_, kRxQueue, kTxQueue, whole.buffer_bytes);
    if (tx_rx.empty()) tx_rx = run_round(whole, 0);
    out.push_back({"net.tx-rx", kWhatTxRx, tx_rx.empty() ? Verdict::Pass : Verdict::Fail, tx_rx});
    spans(out.back(), first);

    if (!mrg_acked_) {
      out.push_back({"net.mrg-rxbuf", kWhatMrg, Verdict::Unsupported,
                     "VIRTIO_NET_F_MRG_RXBUF was not negotiated"});
    } else if (!tx_rx.empty()) {
      // Its receive buffers may still be posted: a second round would read them as its own.
      out.push_back({"net.mrg-rxbuf", kWhatMrg, Verdict::Fail, "not run: net.tx-rx failed"});
    } else {
      RxLayout small;
      small.merged = true;
      small.buffer_bytes = std::max(options_.mrg_buffer_size, header_size_ + 1);
      merged_any_ = false;
      first = ctx_.io.records_written() + 1;
      std::string mrg = run_round(small, 1000);
      const bool must_merge =
          std::any_of(options_.frame_sizes.begin(), options_.frame_sizes.end(), [&](uint32_t s) {
            return header_size_ + std::clamp(s, kMinFrameSize, kMaxFrameSize) > small.buffer_bytes;
          });
      if (mrg.empty() && must_merge && !merged_any_)
        mrg = "no frame came back spread over more than one receive buffer";
      out.push_back({"net.mrg-rxbuf", kWhatMrg, mrg.empty() ? Verdict::Pass : Verdict::Fail, mrg});
      spans(out.back(), first);
    }
    return out;
  }

 private:
  // The capture records a check's I/O spans (none when nothing records).
  void spans(CheckOutcome& c, uint64_t first) const {
    const uint64_t last = ctx_.io.records_written();
    if (last >= first) {
      c.first_record = first;
      c.last_record = last;
    }
  }

  ChainRequest rx_chain(const RxLayout& rx) const { return framing_.rx_chain(rx.buffer_bytes); }
  ChainRequest tx_chain(const std::vector<uint8_t>& frame) const {
    return framing_.tx_chain(frame);
  }

  // Sends every frame and collects it back; the reason of the first failure, empty when all
  // frames came back intact. Frames go in batches that the rings can hold, each batch's receive
  // buffers posted before its frames are sent (a device drops what it has no buffer for).
  std::string run_round(const RxLayout& rx, uint32_t first_seq) {
    std::vector<Frame> frames;
    for (size_t i = 0; i < options_.frame_sizes.size(); ++i) {
      Frame f;
      f.seq = first_seq + static_cast<uint32_t>(i);
      f.bytes = build_exercise_frame(f.seq, options_.frame_sizes[i]);
      const uint32_t need = header_size_ + static_cast<uint32_t>(f.bytes.size());
      f.rx_buffers = rx.merged ? (need + rx.buffer_bytes - 1) / rx.buffer_bytes : 1;
      frames.push_back(std::move(f));
    }
    const uint32_t rx_capacity = ctx_.io.queue_size(kRxQueue) / framing_.descriptors_per_chain();
    const uint32_t tx_capacity = ctx_.io.queue_size(kTxQueue) / framing_.descriptors_per_chain();
    for (size_t begin = 0; begin < frames.size();) {
      size_t end = begin;
      uint32_t buffers = 0;
      while (end < frames.size() && end - begin < tx_capacity &&
             buffers + frames[end].rx_buffers <= rx_capacity)
        buffers += frames[end++].rx_buffers;
      if (end == begin)
        return "frame seq " + std::to_string(frames[begin].seq) + " needs " +
               std::to_string(frames[begin].rx_buffers) + " receive buffers; queue 0 holds " +
               std::to_string(rx_capacity);
      if (auto error = run_batch(rx, std::span(frames).subspan(begin, end - begin), buffers);
          !error.empty())
        return error;
      begin = end;
    }
    return {};
  }

  std::string run_batch(const RxLayout& rx, std::span<const Frame> frames, uint32_t buffers) {
    const std::vector<ChainRequest> rx_chains(buffers, rx_chain(rx));
    if (auto posted = ctx_.io.post(kRxQueue, rx_chains); !posted)
      return "posting " + std::to_string(buffers) + " receive buffers: " + posted.error;

    std::vector<ChainRequest> tx_chains;
    for (const auto& f : frames) tx_chains.push_back(tx_chain(f.bytes));
    if (auto sent = ctx_.io.transact(kTxQueue, tx_chains, ctx_.timeout); !sent)
      return "transmitting frames seq " + std::to_string(frames.front().seq) + ".." +
             std::to_string(frames.back().seq) + ": " + sent.error;

    std::map<uint32_t, const Frame*> pending;
    for (const auto& f : frames) pending[f.seq] = &f;
    std::set<uint32_t> received;
    while (!pending.empty()) {
      auto first = ctx_.io.wait_used(kRxQueue, 1, ctx_.timeout);
      if (!first) return missing_text(pending, first.error);
      std::vector<uint8_t> bytes = used_bytes(first.value->front());
      if (bytes.size() < header_size_)
        return "a receive buffer's used length " + std::to_string(bytes.size()) +
               " is shorter than the " + std::to_string(header_size_) + "-byte virtio_net_hdr";
      uint16_t count = 1;
      if (rx.merged) {
        count = net_header_num_buffers(bytes, header_size_).value_or(0);
        if (count == 0) return "a receive header says num_buffers 0";
      }
      std::vector<uint8_t> frame(bytes.begin() + header_size_, bytes.end());
      if (count > 1) {
        // Only the first buffer of a merged packet carries the header (VIRTIO "Processing of
        // Incoming Packets").
        auto rest = ctx_.io.wait_used(kRxQueue, count - 1u, ctx_.timeout);
        if (!rest)
          return "a frame spread over num_buffers " + std::to_string(count) +
                 " receive buffers, but the rest did not come: " + rest.error;
        for (const auto& c : *rest.value) {
          auto more = used_bytes(c);
          frame.insert(frame.end(), more.begin(), more.end());
        }
        merged_any_ = true;
      }
      auto seq = exercise_frame_seq(frame);
      if (!seq)
        return "a received frame of " + std::to_string(frame.size()) +
               " bytes is not one this workload sent";
      auto it = pending.find(*seq);
      if (it == pending.end())
        return "frame seq " + std::to_string(*seq) +
               (received.count(*seq) ? " came back twice"
                                     : " came back, but this round did not send it");
      if (auto error = check_echo(frame, *it->second); !error.empty()) return error;
      received.insert(*seq);
      pending.erase(it);
    }
    return {};
  }

  // Compares a returned frame with what was sent, as the back-end's forwarding mode changes it.
  std::string check_echo(const std::vector<uint8_t>& got, const Frame& sent) {
    const std::vector<uint8_t> swapped = mac_swapped(sent.bytes);
    const std::string name = "frame seq " + std::to_string(sent.seq) + " (" +
                             std::to_string(sent.bytes.size()) + " bytes)";
    const bool looks_swapped =
        got.size() >= 12 && std::equal(got.begin(), got.begin() + 12, swapped.begin());
    const bool looks_unchanged =
        got.size() >= 12 && std::equal(got.begin(), got.begin() + 12, sent.bytes.begin());
    NetEcho mode = echo_;
    if (mode == NetEcho::Either) mode = looks_swapped ? NetEcho::MacSwapped : NetEcho::Unchanged;
    if (mode == NetEcho::Unchanged && looks_swapped && !looks_unchanged)
      return name + " came back " + echo_text(NetEcho::MacSwapped) + ", expected " +
             echo_text(NetEcho::Unchanged);
    if (mode == NetEcho::MacSwapped && looks_unchanged && !looks_swapped)
      return name + " came back " + echo_text(NetEcho::Unchanged) + ", expected " +
             echo_text(NetEcho::MacSwapped);
    const auto& want = mode == NetEcho::MacSwapped ? swapped : sent.bytes;
    if (auto diff = frame_difference(got, want); !diff.empty()) return name + ": " + diff;
    echo_ = mode;  // every later frame must come back the same way
    return {};
  }

  std::string missing_text(const std::map<uint32_t, const Frame*>& pending,
                           const std::string& why) {
    std::string text = pending.size() == 1 ? "frame " : "frames ";
    size_t listed = 0;
    for (const auto& [seq, f] : pending) {
      if (listed == 4) {
        text += " and " + std::to_string(pending.size() - 4) + " more";
        break;
      }
      text += (listed++ ? ", seq " : "seq ") + std::to_string(seq) + " (" +
              std::to_string(f->bytes.size()) + " bytes)";
    }
    return text + " did not come back: " + why;
  }

  WorkloadContext& ctx_;
  NetWorkloadOptions options_;
  NetFraming framing_;
  uint32_t header_size_;
  bool mrg_acked_;
  NetEcho echo_;
  bool merged_any_ = false;
};

}  // namespace

// A switch or forwarder may drop frames until its port is up, and may bring the port up only
// after it answered the messages that enabled the rings (dpdk-testpmd's vhost port goes up in
// its new_device callback, which runs after the reply): a frame lost then says nothing about
// the device. So probe frames are sent, one receive buffer posted for them, until the newest
// probe comes back; an older one coming back first gets a new buffer. One queue pair keeps
// order, so once the newest is back no probe can follow into the round's buffers. Empty when
// the port forwards; the reason when no probe came back within the timeout.
std::string wait_until_net_forwarding(WorkloadContext& ctx, const NetFraming& framing,
                                      unsigned rx_queue, unsigned tx_queue, uint32_t buffer_bytes) {
  const uint32_t probes =
      std::max<uint32_t>(1, static_cast<uint32_t>(ctx.timeout.count() / kProbeWait.count()));
  bool buffer_posted = false;
  bool send = true;
  uint32_t sent = 0;
  for (uint32_t wait = 0; wait < probes; ++wait) {
    if (!buffer_posted) {
      const ChainRequest buffer = framing.rx_chain(buffer_bytes);
      if (auto posted = ctx.io.post(rx_queue, std::span(&buffer, 1)); !posted)
        return "posting a receive buffer for the probe frames: " + posted.error;
      buffer_posted = true;
    }
    if (send) {
      const uint32_t seq = kProbeSeq + sent++;
      const ChainRequest probe = framing.tx_chain(build_exercise_frame(seq, kMinFrameSize));
      if (auto done = ctx.io.transact(tx_queue, std::span(&probe, 1), ctx.timeout); !done)
        return "transmitting probe frame seq " + std::to_string(seq) + ": " + done.error;
    }
    auto back = ctx.io.wait_used(rx_queue, 1, kProbeWait);
    send = !back;  // nothing back: not forwarding yet, the buffer stays posted for the next
    if (!back) continue;
    buffer_posted = false;
    const std::vector<uint8_t> bytes = used_bytes(back.value->front());
    if (bytes.size() > framing.header_size() &&
        exercise_frame_seq(std::span(bytes).subspan(framing.header_size())) == kProbeSeq + sent - 1)
      return {};
    // An older probe: wait for the newest with a new buffer, without sending another.
  }
  return "no probe frame (seq " + std::to_string(kProbeSeq) + "..) came back on queue " +
         std::to_string(rx_queue) + " within " + std::to_string(probes * kProbeWait.count()) +
         " ms: the back-end does not forward frames back";
}

std::vector<CheckOutcome> run_net_workload(WorkloadContext& ctx) {
  return run_net_workload(ctx, NetWorkloadOptions{});
}

std::vector<CheckOutcome> run_net_workload(WorkloadContext& ctx,
                                           const NetWorkloadOptions& options) {
  return NetWorkload(ctx, options).run();
}

}  // namespace vhs::exercise
