// load_capture: a capture file into a Store. A big regular file is read through its memory map
// by two threads: a reader walks the records (pcap framing, pseudo-header, fd descriptions) a
// batch ahead while the calling thread ingests them, so the first touch of each record's bytes
// and the framing work run on the other core. The store itself stays single-threaded: only the
// calling thread appends.
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "captures/format/capture_file.hpp"
#include "captures/format/mapped_capture.hpp"
#include "captures/model/store.hpp"

namespace vhs {
namespace {

// Below this a capture is read on the calling thread: starting a thread would cost more than it
// saves, and the many small captures of tests and bug reports stay single-threaded.
constexpr size_t kPipelinedFrom = size_t{8} << 20;
constexpr size_t kBatchRecords = 8192;

// Records as the reader produced them. A view's fds point into `fds` once the batch is sealed.
struct RecordBatch {
  std::vector<RecordView> views;
  std::vector<uint32_t> fd_counts;
  std::vector<FdInfo> fds;  // resized, not cleared: the names keep their capacity
  size_t fds_used = 0;

  void clear() {
    views.clear();
    fd_counts.clear();
    fds_used = 0;
  }
  void add(const RecordView& r) {
    views.push_back(r);
    fd_counts.push_back(static_cast<uint32_t>(r.fds.size()));
    if (fds.size() < fds_used + r.fds.size()) fds.resize(fds_used + r.fds.size());
    for (const FdInfo& fd : r.fds) fds[fds_used++] = fd;
  }
  // The views' fd spans, set when no more fds are added (the vector no longer moves).
  void seal() {
    size_t at = 0;
    for (size_t i = 0; i < views.size(); ++i) {
      views[i].fds = std::span<const FdInfo>(fds.data() + at, fd_counts[i]);
      at += fd_counts[i];
    }
  }
};

// Two batches passed back and forth: the reader fills one while the ingest thread reads the
// other.
class BatchExchange {
 public:
  explicit BatchExchange(std::vector<RecordBatch>& batches) {
    for (RecordBatch& b : batches) empty_.push_back(&b);
  }

  // Reader side: a batch to fill; nullptr once the ingest thread stopped.
  RecordBatch* take_empty() {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [this] { return !empty_.empty() || stopped_; });
    if (stopped_) return nullptr;
    RecordBatch* b = empty_.back();
    empty_.pop_back();
    return b;
  }
  void give_full(RecordBatch* b) {
    std::lock_guard lock(mutex_);
    full_.push_back(b);
    changed_.notify_all();
  }
  void end_of_input(std::exception_ptr failure = nullptr) {
    std::lock_guard lock(mutex_);
    ended_ = true;
    failure_ = failure;
    changed_.notify_all();
  }
  // Ingest side: the next filled batch; nullptr at the end of the input (after every full batch
  // was taken). An exception the reader met is rethrown here.
  RecordBatch* take_full() {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [this] { return !full_.empty() || ended_; });
    if (full_.empty()) {
      if (failure_) std::rethrow_exception(failure_);
      return nullptr;
    }
    RecordBatch* b = full_.front();
    full_.erase(full_.begin());
    return b;
  }
  void give_empty(RecordBatch* b) {
    std::lock_guard lock(mutex_);
    empty_.push_back(b);
    changed_.notify_all();
  }
  // The ingest thread gives up (an exception): the reader stops at its next batch.
  void stop() {
    std::lock_guard lock(mutex_);
    stopped_ = true;
    changed_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<RecordBatch*> empty_, full_;
  bool ended_ = false, stopped_ = false;
  std::exception_ptr failure_;
};

void read_batches(MappedCapture& mapped, BatchExchange& exchange) {
  try {
    RecordView r;
    bool more = true;
    while (more) {
      RecordBatch* batch = exchange.take_empty();
      if (!batch) break;
      batch->clear();
      while (batch->views.size() < kBatchRecords && (more = mapped.next(r))) batch->add(r);
      batch->seal();
      exchange.give_full(batch);
    }
    exchange.end_of_input();
  } catch (...) {
    exchange.end_of_input(std::current_exception());
  }
}

void load_pipelined(MappedCapture& mapped, Store& store) {
  std::vector<RecordBatch> batches(2);
  BatchExchange exchange(batches);
  std::thread reader([&] { read_batches(mapped, exchange); });
  try {
    while (RecordBatch* batch = exchange.take_full()) {
      for (const RecordView& r : batch->views) store.append_stable(r);
      if (!batch->views.empty()) mapped.release_pages_before(batch->views.back().bytes.data());
      exchange.give_empty(batch);
    }
  } catch (...) {
    exchange.stop();
    reader.join();
    throw;
  }
  reader.join();
}

}  // namespace

bool load_capture(const std::string& path, Store& store, std::string& warning, std::string& error,
                  const std::string& label) {
  // A regular capture file is read where it lies (the store keeps the mapping); anything else,
  // and files the mapped reader does not serve, through libpcap.
  if (auto mapped = MappedCapture::open(path, label)) {
    if (mapped->bytes().size() >= kPipelinedFrom) {
      load_pipelined(*mapped, store);
    } else {
      RecordView r;
      while (mapped->next(r)) {
        store.append_stable(r);
        mapped->release_read_pages();
      }
    }
    warning = mapped->warning();
    store.attach(std::move(mapped));
    store.finish();
    return true;
  }
  auto reader = CaptureReader::open(path, error);
  if (!reader) return false;
  Record r;
  while (reader->next(r)) store.append(r);
  warning = reader->warning();
  store.finish();
  return true;
}

}  // namespace vhs
