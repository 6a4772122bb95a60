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

Controller::~Controller() {
  load_cancel_ = true;
  join_loader();
  stop_live();
}

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

void Controller::join_loader() {
  if (loader_.joinable()) loader_.join();
}

bool Controller::open_capture(const std::string& path) {
  if (live_running()) {
    set_error("stop the live session before opening a capture");
    return false;
  }
  // A load in progress is abandoned; its thread exits at the next record.
  load_cancel_ = true;
  join_loader();
  load_cancel_ = false;
  load_done_ = false;
  load_records_ = 0;
  clear_messages();
  loading_path_ = path;
  // Reading + decoding happens here, off the GUI thread, through the same ingest path as live
  // records; the finished store is swapped in by pump(). A regular capture file is read where it
  // lies, as load_capture does for the CLI (the store keeps the mapping and a compact index, not
  // a copy of every record); anything else (pipes, pcapng) through libpcap.
  loader_ = std::thread([this, path] {
    auto t0 = std::chrono::steady_clock::now();
    auto store = std::make_unique<Store>(Store::Options{device_});
    std::string error, warning;
    bool opened = false;
    if (auto mapped = MappedCapture::open(path, escape_text(path))) {
      opened = true;
      RecordView r;
      while (!load_cancel_ && mapped->next(r)) {
        store->append_stable(r);
        mapped->release_read_pages();
        load_records_.fetch_add(1, std::memory_order_relaxed);
      }
      warning = mapped->warning();
      store->attach(std::move(mapped));
      store->finish();
    } else if (auto reader = CaptureReader::open(path, error)) {
      opened = true;
      Record r;
      while (!load_cancel_ && reader->next(r)) {
        store->append(r);
        load_records_.fetch_add(1, std::memory_order_relaxed);
      }
      warning = reader->warning();
      store->finish();
    }
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::lock_guard lock(mutex_);
    if (opened && !load_cancel_) loaded_ = std::move(store);
    loaded_path_ = path;
    loaded_error_ = error;
    loaded_warning_ = warning;
    loaded_seconds_ = seconds;
    load_done_ = true;
  });
  return true;
}

void Controller::wait_for_load() { join_loader(); }

bool Controller::start_live(const LiveOptions& options) {
  if (live_running()) {
    set_error("a live session is already running");
    return false;
  }
  load_cancel_ = true;
  join_loader();
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

PumpResult Controller::pump() {
  PumpResult out;
  out.replaced = replaced_pending_;
  replaced_pending_ = false;
  if (load_done_) {
    join_loader();
    load_done_ = false;
    std::lock_guard lock(mutex_);
    if (loaded_) {
      store_ = std::move(loaded_);
      mode_ = Mode::Capture;
      source_ = loaded_path_;
      load_seconds_ = loaded_seconds_;
      out.replaced = true;
      out.finished = true;
      queue_.reset();
    }
    if (!loaded_error_.empty()) error_ = loaded_error_;
    if (!loaded_warning_.empty()) warning_ = loaded_warning_;
  }
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
