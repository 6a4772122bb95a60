// Controller: background capture loading, the live relay thread, saving.
#include "app/gui/controller.hpp"

#include <chrono>

#include "app/common/text_escape.hpp"
#include "app/common/view_export.hpp"
#include "captures/format/mapped_capture.hpp"

namespace vhs::gui {
namespace {
constexpr size_t kMaxLogLines = 200;
}

Controller::Controller(DeviceKind device)
    : device_(device), store_(std::make_unique<Store>(Store::Options{device})) {}

Controller::~Controller() { stop_live(); }

void Controller::set_error(std::string e) {
  std::lock_guard lock(mutex_);
  error_ = std::move(e);
}

void Controller::set_warning(std::string w) {
  std::lock_guard lock(mutex_);
  warning_ = std::move(w);
}

std::string Controller::last_error() const {
  std::lock_guard lock(mutex_);
  return error_;
}

std::string Controller::last_warning() const {
  std::lock_guard lock(mutex_);
  return warning_;
}

void Controller::clear_messages() {
  std::lock_guard lock(mutex_);
  error_.clear();
  warning_.clear();
}

std::vector<std::string> Controller::log_lines() const {
  std::lock_guard lock(mutex_);
  return log_;
}

bool Controller::open_capture(const std::string& path) {
  if (live_running()) {
    set_error("stop the live session before opening a capture");
    return false;
  }
  clear_messages();
  Loading l;
  l.started = std::chrono::steady_clock::now();
  l.mapped = MappedCapture::open(path, escape_text(path));
  std::string error;
  if (!l.mapped) {
    l.reader = CaptureReader::open(path, error);
    if (!l.reader) {  // the shown store stays
      set_error(error);
      return false;
    }
  }
  // A load in progress is abandoned with its store. The new store is shown at once (empty) and
  // grows a slice per frame through the same ingest path as live records.
  stop_live();
  queue_.reset();
  store_ = std::make_unique<Store>(Store::Options{device_});
  // The store keeps the mapping alive (its stable records point into it).
  if (l.mapped) store_->attach(l.mapped);
  loading_ = std::move(l);
  loading_path_ = path;
  load_records_ = 0;
  mode_ = Mode::Capture;
  source_ = path;
  replaced_pending_ = true;
  return true;
}

size_t Controller::load_slice(double budget_ms, bool& finished) {
  finished = false;
  if (!loading_) return 0;
  using Clock = std::chrono::steady_clock;
  const auto t0 = Clock::now();
  const auto deadline =
      budget_ms >= kUnbounded ? Clock::time_point::max()
                              : t0 + std::chrono::duration_cast<Clock::duration>(
                                         std::chrono::duration<double, std::milli>(budget_ms));
  // The clock is read every few hundred records: a record takes well under a microsecond.
  constexpr size_t kRecordsPerClockCheck = 256;
  Loading& l = *loading_;
  size_t appended = 0;
  bool more = true;
  while (more) {
    for (size_t k = 0; k < kRecordsPerClockCheck && more; ++k) {
      if (l.mapped) {
        RecordView r;
        more = l.mapped->next(r);
        if (!more) break;
        store_->append_stable(r);
        l.offset = static_cast<size_t>(r.bytes.data() + r.bytes.size() - l.mapped->bytes().data());
      } else {
        Record r;
        more = l.reader->next(r);
        if (!more) break;
        store_->append(r);
      }
      ++appended;
    }
    if (l.mapped) l.mapped->release_read_pages();
    if (Clock::now() >= deadline) break;
  }
  load_records_ += appended;
  if (more) return appended;
  const std::string warning = l.mapped ? l.mapped->warning() : l.reader->warning();
  if (!warning.empty()) set_warning(warning);
  store_->finish();
  load_seconds_ = std::chrono::duration<double>(Clock::now() - l.started).count();
  loading_.reset();
  finished = true;
  return appended;
}

double Controller::load_fraction() const {
  if (!loading_ || !loading_->mapped || loading_->mapped->bytes().empty()) return 0;
  return static_cast<double>(loading_->offset) /
         static_cast<double>(loading_->mapped->bytes().size());
}

void Controller::wait_for_load() {
  bool finished = false;
  load_slice(kUnbounded, finished);
  finished_pending_ = finished_pending_ || finished;
}

bool Controller::start_live(const LiveOptions& options) {
  if (live_running()) {
    set_error("a live session is already running");
    return false;
  }
  loading_.reset();
  stop_live();
  clear_messages();
  RelayOptions ro;  // ring sampling at RelayOptions' default (50 ms), like `vhostscope record`
  ro.frontend = options.frontend;
  ro.backend = options.backend;
  ro.breaks = options.breaks;
  ro.log = [this](LogLevel level, std::string_view text) {
    std::lock_guard lock(mutex_);
    log_.push_back(std::string(level == LogLevel::Error ? "error: " : "") + std::string(text));
    if (log_.size() > kMaxLogLines)
      log_.erase(log_.begin(), log_.begin() + (log_.size() - kMaxLogLines));
    if (level == LogLevel::Error) error_ = std::string(text);
  };
  std::string error;
  auto relay = Relay::create(std::move(ro), error);
  if (!relay) {
    set_error(error);
    return false;
  }
  if (!options.write.empty()) {
    writer_ = CaptureWriter::create(options.write, error);
    if (!writer_) {
      set_error(error);
      return false;
    }
    CaptureWriter* w = writer_.get();
    Relay* r = relay.get();
    // The writer is a sink of its own on the relay thread: recording does not depend on frames.
    relay->add_sink(writer_.get(), [this, w, r] {
      if (!w->flush()) {
        set_error(w->error() + "; recording stopped");
        r->stop();
      }
    });
    recording_ = options.write;
  } else {
    recording_.clear();
  }
  queue_ = std::make_unique<RecordQueue>();
  relay->add_sink(queue_.get());
  relay_ = std::move(relay);
  store_ = std::make_unique<Store>(Store::Options{device_});
  replaced_pending_ = true;
  mode_ = Mode::Live;
  live_finished_ = false;
  source_ = (options.frontend.mode == EndpointMode::Listen ? "front-end on " : "front-end at ") +
            options.frontend.path + " ⇄ back-end " +
            (options.backend.mode == EndpointMode::Listen ? "on " : "at ") + options.backend.path;
  relay_done_ = false;
  Relay* r = relay_.get();
  RecordQueue* q = queue_.get();
  relay_thread_ = std::thread([this, r, q] {
    int rc = r->run();
    q->close();
    if (rc != 0) set_error("the relay stopped with an error (see the log)");
    relay_done_ = true;
  });
  return true;
}

void Controller::stop_live() {
  if (!relay_thread_.joinable()) return;
  relay_->stop();
  relay_thread_.join();
  // The relay has delivered its final Disconnect records: take them, then close the sessions.
  if (queue_) queue_->drain(*store_);
  if (!live_finished_) {
    store_->finish();
    live_finished_ = true;
    finished_pending_ = true;
  }
  relay_.reset();
  if (writer_) {
    writer_->flush();
    writer_.reset();
  }
}

std::string Controller::debug_command(std::string_view line) {
  if (!relay_ || !live_running()) return "error: no live session\n";
  return relay_->debug_command(line);
}

RelayStats Controller::live_stats() const { return relay_ ? relay_->stats() : RelayStats{}; }

uint64_t Controller::dropped() const { return queue_ ? queue_->dropped() : 0; }

PumpResult Controller::pump(double budget_ms) {
  PumpResult out;
  out.replaced = replaced_pending_;
  replaced_pending_ = false;
  if (loading_) out.appended = load_slice(budget_ms, out.finished);
  if (mode_ == Mode::Live && queue_) {
    out.appended = queue_->drain(*store_);
    // A frozen ring sends no records: let the wall clock raise its stall (record time base).
    const auto now = std::chrono::system_clock::now().time_since_epoch();
    out.ring_findings = store_->advance_time(
        static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(now).count()));
    // The relay ended by itself (front-end gone for good, or a fatal error): close the sessions.
    if (relay_done_ && !live_finished_ && queue_->closed()) {
      out.appended += queue_->drain(*store_);
      stop_live();
    }
  }
  out.finished = out.finished || finished_pending_;
  finished_pending_ = false;
  return out;
}

bool Controller::save_capture(const std::string& path) {
  std::string error;
  auto writer = CaptureWriter::create(path, error);
  if (!writer) {
    set_error(error);
    return false;
  }
  view::export_records(*store_, *writer);
  if (!writer->flush()) {
    set_error(writer->error());
    return false;
  }
  set_warning("saved " + std::to_string(writer->records_written()) + " records to " + path);
  return true;
}

}  // namespace vhs::gui
