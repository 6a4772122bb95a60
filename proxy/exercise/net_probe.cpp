#include "proxy/exercise/net_probe.hpp"

#include <algorithm>
#include <atomic>
#include <map>
#include <set>

#include <fmt/format.h>

#include "proxy/exercise/net_frames.hpp"

namespace vhs::exercise {
namespace {

// Probe frames are numbered apart from the workload's (0.., 1000.., 0x70000000..) and never
// twice in a process, so a frame of an earlier probe that arrives late is told apart.
constexpr uint32_t kFirstProbeSeq = 0x60000000;
std::atomic<uint32_t> g_next_seq{kFirstProbeSeq};
// How long to wait for a frame before sending another (a forwarder may have dropped it).
constexpr std::chrono::milliseconds kSlice{100};

class NetProbe : public IoProbe {
 public:
  explicit NetProbe(const ProbeContext& ctx) : ctx_(ctx), framing_(ctx.virtio_features) {}

  unsigned unit_count() const override { return ctx_.io.queue_count() / 2; }
  std::vector<unsigned> queues(unsigned pair) const override { return {rx(pair), tx(pair)}; }

  std::string round_trip(unsigned pair) override {
    const ChainRequest buffer = framing_.rx_chain(framing_.whole_rx_buffer_bytes());
    if (auto posted = ctx_.io.post(rx(pair), std::span(&buffer, 1)); !posted) return posted.error;
    return fill_receive_buffers(pair, "");
  }

  // More receive buffers than frames, so some are still empty when the rings stop.
  std::string put_in_flight(unsigned pair, size_t count) override {
    const size_t per_chain = framing_.descriptors_per_chain();
    const size_t buffers = std::max<size_t>(2, count / per_chain);
    const std::vector<ChainRequest> rx_chains(buffers,
                                              framing_.rx_chain(framing_.whole_rx_buffer_bytes()));
    if (auto posted = ctx_.io.post(rx(pair), rx_chains); !posted) return posted.error;
    std::vector<ChainRequest> frames;
    for (size_t i = 0; i < buffers / 2; ++i) frames.push_back(framing_.tx_chain(next_frame()));
    if (auto posted = ctx_.io.post(tx(pair), frames); !posted) return posted.error;
    return "";
  }

  std::string settle_in_flight(unsigned pair) override {
    // Every frame in flight on the transmit queue is used exactly once (the driver rejects a
    // repeated or unknown id), whether or not the forwarder got it through.
    const size_t frames = ctx_.io.in_flight(tx(pair));
    if (auto used = ctx_.io.wait_used(tx(pair), frames, ctx_.timeout); !used)
      return fmt::format("the {} frames in flight on transmit queue {} when the ring stopped: {}",
                         frames, tx(pair), used.error);
    return fill_receive_buffers(pair, " of those posted before the rings stopped");
  }

 private:
  static unsigned rx(unsigned pair) { return 2 * pair; }
  static unsigned tx(unsigned pair) { return 2 * pair + 1; }

  std::vector<uint8_t> next_frame() {
    const uint32_t seq = g_next_seq++;
    // Small frames of varied sizes: each fits the receive buffers whole.
    std::vector<uint8_t> frame = build_exercise_frame(seq, kMinFrameSize + (seq % 8) * 61);
    sent_[seq] = frame;
    return frame;
  }

  // Sends one frame; every frame in flight on the transmit queue must be used.
  std::string transmit(unsigned pair) {
    const ChainRequest chain = framing_.tx_chain(next_frame());
    if (auto posted = ctx_.io.post(tx(pair), std::span(&chain, 1)); !posted) return posted.error;
    auto used = ctx_.io.wait_used(tx(pair), ctx_.io.in_flight(tx(pair)), ctx_.timeout);
    return used ? "" : used.error;
  }

  // Sends frames until every receive buffer in flight on the pair holds one: one at a time, the
  // next when the last came back or nothing came for a slice (a forwarder coming up drops
  // frames). Fails when no buffer is filled for the timeout, or on a frame that is wrong.
  std::string fill_receive_buffers(unsigned pair, const char* buffers_note) {
    using Clock = std::chrono::steady_clock;
    auto last_progress = Clock::now();
    size_t sent_here = 0, filled = 0;
    bool send = true;
    while (ctx_.io.in_flight(rx(pair)) > 0) {
      if (Clock::now() - last_progress >= ctx_.timeout)
        return fmt::format(
            "queue {}: {} receive buffer(s){} never filled: no frame came back within {} ms, {} "
            "frame(s) sent on queue {} meanwhile ({} filled before)",
            rx(pair), ctx_.io.in_flight(rx(pair)), buffers_note, ctx_.timeout.count(), sent_here,
            tx(pair), filled);
      if (send) {
        if (std::string why = transmit(pair); !why.empty()) return why;
        ++sent_here;
      }
      auto back = ctx_.io.wait_used(rx(pair), 1, kSlice);
      if (!back) {
        if (!back.timed_out()) return back.error;
        send = true;
        continue;
      }
      if (std::string why = check_received(rx(pair), back.value->front()); !why.empty()) return why;
      ++filled;
      last_progress = Clock::now();
      send = false;  // the next goes out when nothing else comes within a slice
    }
    return "";
  }

  // One filled receive buffer: a whole frame this probe (or an earlier one) sent, not seen
  // before, as sent or with its MAC addresses swapped.
  std::string check_received(unsigned queue, const ChainCompletion& c) {
    const std::vector<uint8_t> bytes = used_bytes(c);
    const uint32_t header = framing_.header_size();
    if (bytes.size() < header)
      return fmt::format(
          "queue {}: a receive buffer's used length {} is shorter than the {}-byte "
          "virtio_net_hdr",
          queue, bytes.size(), header);
    if (framing_.mergeable()) {
      const auto n = net_header_num_buffers(bytes, header).value_or(0);
      if (n != 1)
        return fmt::format(
            "queue {}: a {}-byte frame in a receive buffer that holds it whole "
            "says num_buffers {}",
            queue, bytes.size() - header, n);
    }
    const std::span<const uint8_t> frame = std::span(bytes).subspan(header);
    const auto seq = exercise_frame_seq(frame);
    if (!seq)
      return fmt::format("queue {}: a received frame of {} bytes is not one vhostscope sent", queue,
                         frame.size());
    if (!received_.insert(*seq).second)
      return fmt::format("queue {}: frame seq {} came back twice (two receive buffers hold it)",
                         queue, *seq);
    const auto sent = sent_.find(*seq);
    if (sent == sent_.end()) return "";  // an earlier check's frame, late
    const std::vector<uint8_t>& want = sent->second;
    if (std::equal(frame.begin(), frame.end(), want.begin(), want.end())) return "";
    const std::vector<uint8_t> swapped = mac_swapped(want);
    if (std::equal(frame.begin(), frame.end(), swapped.begin(), swapped.end())) return "";
    return fmt::format("queue {}: frame seq {} ({} bytes) came back changed: {}", queue, *seq,
                       want.size(), frame_difference(frame, want));
  }

  ProbeContext ctx_;
  NetFraming framing_;
  std::map<uint32_t, std::vector<uint8_t>> sent_;
  std::set<uint32_t> received_;
};

}  // namespace

std::unique_ptr<IoProbe> make_net_probe(const ProbeContext& ctx) {
  return std::make_unique<NetProbe>(ctx);
}

}  // namespace vhs::exercise
