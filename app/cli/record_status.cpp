// `record --status` lines (see record_status.hpp).
#include "app/cli/record_status.hpp"

#include <chrono>
#include <cstdio>

#include "decoders/ring_snapshot.hpp"

namespace vhs::cli {

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
    lines_.clear();
    return;
  }
  if (record.kind != RecordKind::RingState) return;
  // Decoding here keeps the relay's sink cheap enough: RingState records are rare (changes only).
  auto snap = decode_ring_snapshot(record.bytes);
  if (!snap) return;
  std::lock_guard<std::mutex> lock(mu_);
  session_ = record.session;
  lines_[snap->queue] = describe_ring_snapshot(*snap);
}

void RecordStatus::run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    cv_.wait_for(lock, std::chrono::seconds(1), [this] { return stop_; });
    if (stop_) break;
    for (const auto& [queue, line] : lines_)
      std::fprintf(stderr, "vhostscope: status s%u %s\n", session_, line.c_str());
  }
}

}  // namespace vhs::cli
