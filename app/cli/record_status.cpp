// `record --status` lines (see record_status.hpp).
#include "app/cli/record_status.hpp"

#include <time.h>

#include <chrono>
#include <cstdio>

#include <fmt/format.h>

#include "decoders/virtio/ring_snapshot.hpp"

namespace vhs::cli {

namespace {

uint64_t realtime_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}

}  // namespace

RecordStatus::RecordStatus() : thread_([this] { run(); }) {}

RecordStatus::~RecordStatus() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void RecordStatus::on_record(const Record& record) {
  if (record.kind == RecordKind::Disconnect && record.channel == Channel::Frontend) {
    std::lock_guard<std::mutex> lock(mu_);
    sessions_.erase(record.session);
    return;
  }
  if (record.kind != RecordKind::RingState) return;
  // Decoding here keeps the relay's sink cheap enough: RingState records are rare (changes only).
  auto snap = decode_ring_snapshot(record.bytes);
  if (!snap) return;
  std::lock_guard<std::mutex> lock(mu_);
  scratch_.clear();
  sessions_[record.session].rings.observe(*snap, record.timestamp_ns, kNoRingEntry, scratch_);
}

std::string RecordStatus::tick(uint64_t now_ns) {
  std::lock_guard<std::mutex> lock(mu_);
  std::string out;
  for (auto& [id, s] : sessions_) {
    scratch_.clear();
    s.rings.advance(now_ns, scratch_);
    for (const auto& [queue, q] : s.rings.queues())
      out += fmt::format("vhostscope: status s{} {}\n", id, describe_ring_snapshot(q.last));
    // Active episodes are printed every tick until they end; an end is printed once.
    const auto& episodes = s.rings.episodes();
    s.end_printed.resize(episodes.size(), false);
    for (size_t k = 0; k < episodes.size(); ++k) {
      const RingEpisode& e = episodes[k];
      const std::string_view code = finding_info(e.finding.code).id;
      if (e.active()) {
        out += fmt::format("vhostscope: status s{} {} q{}: {}\n", id, code, e.queue,
                           describe_episode(e, now_ns));
      } else if (!s.end_printed[k]) {
        out += fmt::format("vhostscope: status s{} {} ended q{}: {}\n", id, code, e.queue,
                           describe_episode(e, now_ns));
        s.end_printed[k] = true;
      }
    }
  }
  return out;
}

void RecordStatus::run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    cv_.wait_for(lock, std::chrono::seconds(1), [this] { return stop_; });
    if (stop_) break;
    lock.unlock();
    const std::string lines = tick(realtime_ns());
    std::fwrite(lines.data(), 1, lines.size(), stderr);
    lock.lock();
  }
}

}  // namespace vhs::cli
