// The flight recorder sink and its files (see flight_recorder.hpp).
#include "app/common/flight_recorder.hpp"

#include <sys/stat.h>
#include <time.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>

#include <fmt/format.h>

#include "app/common/report_format.hpp"
#include "captures/format/capture_file.hpp"
#include "captures/format/output_file.hpp"
#include "captures/model/store.hpp"

namespace vhs {
namespace {

constexpr uint64_t kNanosPerSecond = 1'000'000'000;

uint64_t realtime_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * kNanosPerSecond + static_cast<uint64_t>(ts.tv_nsec);
}

std::string utc_time(uint64_t ns, bool with_date) {
  const time_t secs = static_cast<time_t>(ns / kNanosPerSecond);
  tm t{};
  ::gmtime_r(&secs, &t);
  const auto ms = static_cast<unsigned>((ns % kNanosPerSecond) / 1'000'000);
  if (with_date)
    return fmt::format("{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:03}", t.tm_year + 1900, t.tm_mon + 1,
                       t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec, ms);
  return fmt::format("{:02}:{:02}:{:02}.{:03}", t.tm_hour, t.tm_min, t.tm_sec, ms);
}

std::string seconds_text(uint64_t ns) {
  return fmt::format("{:.3f} s", static_cast<double>(ns) / 1e9);
}

// What the report says about the window before the `report` command's own text.
std::string window_preface(const FlightWindow& w, const std::string& capture_name) {
  std::string out = "# Flight recorder window\n\n";
  out += fmt::format(
      "Written by `vhostscope record --on-finding` when the finding below appeared live; the "
      "capture is {}. It holds the records from before the first finding and what followed, "
      "until ",
      md_code_span(capture_name));
  if (w.cut_by_stop)
    out += "the recorder stopped.\n\n";
  else
    out += "its hangs cleared or the window's length had passed.\n\n";
  out += "| time (UTC) | session | finding | detail |\n|---|---|---|---|\n";
  for (const LiveFinding& f : w.findings)
    out += fmt::format("| {} | {} | {} | {} |\n", utc_time(f.raised_ns, true), f.session,
                       md_cell(f.id()), md_cell(f.finding.detail));
  out += fmt::format(
      "\n{} records of the window itself, {} to {} (UTC); {} repeated first from earlier in "
      "the session (record flag `repeated`: its Connect and negotiation, requests still "
      "waiting, the last state of each ring) so the capture reads on its own; {} closing "
      "record(s) at the end for the sessions that went on (flag `window_end`: what still "
      "waited there had waited until then)",
      w.records.size() - w.repeated - w.closing, utc_time(w.first_ns, false),
      utc_time(w.last_ns, false), w.repeated, w.closing);
  if (w.dropped_replies != 0)
    out += fmt::format("; {} replies left out (their requests came before the window)",
                       w.dropped_replies);
  if (w.lost != 0)
    out += fmt::format("; {} records lost to the memory cap while the window was open", w.lost);
  out += ".\n\n---\n\n";
  return out;
}

bool same_directory(const std::string& dir, const struct stat& expected) {
  struct stat st {};
  return ::lstat(dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode) && st.st_dev == expected.st_dev &&
         st.st_ino == expected.st_ino;
}

}  // namespace

bool prepare_flight_dir(const std::string& dir, std::string& error) {
  struct stat st {};
  if (::lstat(dir.c_str(), &st) != 0) {
    if (errno != ENOENT) {
      error =
          fmt::format("cannot use '{}' for flight-recorder windows: {}", dir, std::strerror(errno));
      return false;
    }
    // mkdir never follows a link at the path: if one appeared meanwhile, it fails with EEXIST.
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
      error = fmt::format("cannot create '{}' for flight-recorder windows: {}", dir,
                          std::strerror(errno));
      return false;
    }
    if (::lstat(dir.c_str(), &st) != 0) {
      error =
          fmt::format("cannot use '{}' for flight-recorder windows: {}", dir, std::strerror(errno));
      return false;
    }
  }
  if (S_ISLNK(st.st_mode)) {
    error = fmt::format(
        "cannot use '{}' for flight-recorder windows: it is a symbolic link (vhostscope does "
        "not write through links; name the directory itself)",
        dir);
    return false;
  }
  if (!S_ISDIR(st.st_mode)) {
    error = fmt::format("cannot use '{}' for flight-recorder windows: not a directory", dir);
    return false;
  }
  return true;
}

std::string flight_window_stem(uint64_t trigger_ns, std::string_view finding_id) {
  const time_t secs = static_cast<time_t>(trigger_ns / kNanosPerSecond);
  tm t{};
  ::gmtime_r(&secs, &t);
  return fmt::format("{:04}{:02}{:02}T{:02}{:02}{:02}.{:03}Z-{}", t.tm_year + 1900, t.tm_mon + 1,
                     t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec,
                     (trigger_ns % kNanosPerSecond) / 1'000'000, finding_id);
}

bool write_flight_window(const std::string& dir, const FlightWindow& window,
                         const std::string& tool_version, std::vector<std::string>& written,
                         std::string& error) {
  const std::string_view id = window.findings.empty() ? "finding" : window.findings.front().id();
  const std::string stem = flight_window_stem(window.trigger_ns, id);
  const std::string capture_path = dir + "/" + stem + ".pcap";
  const std::string report_path = dir + "/" + stem + ".md";

  // DIR is checked again: a directory swapped for a link since the start is not written into.
  struct stat dir_stat {};
  if (!prepare_flight_dir(dir, error) || ::lstat(dir.c_str(), &dir_stat) != 0) return false;
  std::unique_ptr<CaptureWriter> writer = CaptureWriter::create(capture_path, error);
  if (!writer) return false;
  for (const Record& r : window.records) writer->write(r);
  if (!writer->flush()) {
    error = writer->error();
    return false;
  }
  writer.reset();
  written.push_back(capture_path);

  // The report is what `vhostscope report` says about this capture: the same ingest path.
  Store store;
  for (const Record& r : window.records) store.append(r);
  store.finish();
  ReportOptions options;
  options.capture_name = stem + ".pcap";
  options.tool_version = tool_version;
  if (!window.findings.empty() && store.find_session(window.findings.front().session) != nullptr)
    options.session = window.findings.front().session;
  const std::string text =
      window_preface(window, options.capture_name) + format_report(store, options);
  if (!same_directory(dir, dir_stat)) {
    error = fmt::format("'{}' changed while the window was written; report not written", dir);
    return false;
  }
  FILE* f = open_output_stream(report_path, error);
  if (f == nullptr) return false;
  const bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size();
  if (std::fclose(f) != 0 || !ok) {
    error = fmt::format("cannot write '{}': {}", report_path, std::strerror(errno));
    return false;
  }
  written.push_back(report_path);
  return true;
}

FlightRecorder::FlightRecorder(FlightRecorderOptions options)
    : options_(std::move(options)), recorder_(options_.window) {}

std::unique_ptr<FlightRecorder> FlightRecorder::create(FlightRecorderOptions options,
                                                       std::string& error) {
  if (!prepare_flight_dir(options.dir, error)) return nullptr;
  std::unique_ptr<FlightRecorder> r(new FlightRecorder(std::move(options)));
  r->thread_ = std::thread([p = r.get()] { p->run(); });
  return r;
}

FlightRecorder::~FlightRecorder() { stop(); }

void FlightRecorder::on_record(const Record& record) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!stopped_) recorder_.on_record(record);
}

void FlightRecorder::run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    cv_.wait_for(lock, std::chrono::nanoseconds(options_.tick_ns), [this] { return stopping_; });
    if (stopping_) break;
    recorder_.advance(realtime_ns());
    std::vector<FlightWindow> done = recorder_.take_finished();
    const uint64_t suppressed = recorder_.suppressed();
    lock.unlock();
    if (suppressed != suppressed_logged_ && options_.log) {
      options_.log(fmt::format(
          "flight recorder: {} finding(s) not written: {} windows in the last hour already",
          suppressed - suppressed_logged_, options_.window.max_windows_per_hour));
      suppressed_logged_ = suppressed;
    }
    // Written without the lock: the relay thread keeps buffering meanwhile.
    write_finished(std::move(done));
    lock.lock();
  }
}

void FlightRecorder::write_finished(std::vector<FlightWindow> windows) {
  std::lock_guard<std::mutex> lock(write_mu_);
  for (const FlightWindow& w : windows) {
    std::vector<std::string> written;
    std::string error;
    const bool ok = write_flight_window(options_.dir, w, options_.tool_version, written, error);
    if (ok) {
      std::lock_guard<std::mutex> count(mu_);
      ++windows_written_;
    }
    if (!options_.log) continue;
    if (ok)
      options_.log(
          fmt::format("flight recorder: {} around {} written to '{}'",
                      seconds_text(w.last_ns - std::min(w.last_ns, w.first_ns)),
                      w.findings.empty() ? std::string_view("a finding") : w.findings.front().id(),
                      written.front()));
    else
      options_.log("flight recorder: " + error);
  }
}

void FlightRecorder::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopped_) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::vector<FlightWindow> done;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopped_ = true;
    recorder_.stop(realtime_ns());
    done = recorder_.take_finished();
  }
  write_finished(std::move(done));
}

uint64_t FlightRecorder::windows_written() const {
  std::lock_guard<std::mutex> lock(mu_);
  return windows_written_;
}

uint64_t FlightRecorder::suppressed() const {
  std::lock_guard<std::mutex> lock(mu_);
  return recorder_.suppressed();
}

}  // namespace vhs
