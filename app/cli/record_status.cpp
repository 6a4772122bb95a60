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
  std::lock_guard<std::mutex> lock(mu_);
  raised_.clear();
  live_.observe(record, raised_);
}

std::string RecordStatus::tick(uint64_t now_ns) {
  std::lock_guard<std::mutex> lock(mu_);
  raised_.clear();
  live_.advance(now_ns, raised_);
  std::string out;
  std::map<uint32_t, std::vector<bool>> still_open;
  for (const auto& [id, rings] : live_.ring_timelines()) {
    for (const auto& [queue, q] : rings->queues())
      out += fmt::format("vhostscope: status s{} {}\n", id, describe_ring_snapshot(q.last));
    // Active episodes are printed every tick until they end; an end is printed once.
    const auto& episodes = rings->episodes();
    std::vector<bool>& end_printed = still_open[id];
    end_printed = std::move(end_printed_[id]);
    end_printed.resize(episodes.size(), false);
    for (size_t k = 0; k < episodes.size(); ++k) {
      const RingEpisode& e = episodes[k];
      const std::string_view code = finding_info(e.finding.code).id;
      if (e.active()) {
        out += fmt::format("vhostscope: status s{} {} q{}: {}\n", id, code, e.queue,
                           describe_episode(e, now_ns));
      } else if (!end_printed[k]) {
        out += fmt::format("vhostscope: status s{} {} ended q{}: {}\n", id, code, e.queue,
                           describe_episode(e, now_ns));
        end_printed[k] = true;
      }
    }
  }
  end_printed_ = std::move(still_open);  // sessions that ended are forgotten
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
