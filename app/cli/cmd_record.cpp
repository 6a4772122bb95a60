// `vhostscope record`: a thin wrapper that runs the relay (proxy/relay.hpp) with a capture file
// as its sink until SIGINT/SIGTERM.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <charconv>
#include <cstdio>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "app/cli/args.hpp"
#include "app/cli/commands.hpp"
#include "app/cli/record_status.hpp"
#include "app/common/flight_recorder.hpp"
#include "app/common/live_check.hpp"
#include "app/common/option_values.hpp"
#include "app/common/text_escape.hpp"
#include "captures/format/capture_file.hpp"
#include "captures/model/rotating_recorder.hpp"
#include "proxy/control_server.hpp"
#include "proxy/relay.hpp"

namespace vhs::cli {

namespace {

// The relay the signal handlers stop; stop() is async-signal-safe (one write to an eventfd). A
// signal that comes before the relay exists is remembered and honoured once it does.
std::atomic<Relay*> g_relay{nullptr};
std::atomic<bool> g_stop_requested{false};

void on_signal(int) {
  g_stop_requested.store(true);
  if (Relay* r = g_relay.load()) r->stop();
}

void install_signal_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

// Counts what the relay recorded, whichever outputs store it.
struct RecordCounter final : RecordSink {
  uint64_t records = 0;
  void on_record(const Record&) override { ++records; }
};

// -C SIZE as tcpdump reads it: a bare number counts millions of bytes (1,000,000, not 2^20);
// the suffixes k/K, m/M, g/G make the unit 1024, 1024^2, 1024^3 bytes.
bool parse_capture_size(const std::string& text, uint64_t& out) {
  uint64_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || end == text.data() || n == 0) return false;
  const std::string_view suffix(end, static_cast<size_t>(text.data() + text.size() - end));
  uint64_t unit = 0;
  if (suffix.empty())
    unit = 1'000'000;
  else if (suffix == "k" || suffix == "K")
    unit = uint64_t{1} << 10;
  else if (suffix == "m" || suffix == "M")
    unit = uint64_t{1} << 20;
  else if (suffix == "g" || suffix == "G")
    unit = uint64_t{1} << 30;
  else
    return false;
  if (n > (uint64_t{1} << 50) / unit) return false;
  out = n * unit;
  return true;
}

// DURATION: a number with ms, s, m or h (seconds without a unit), above 0 and at most a day.
bool parse_duration(const std::string& text, uint64_t& out_ns) {
  double value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end == text.data()) return false;
  const std::string_view unit(end, static_cast<size_t>(text.data() + text.size() - end));
  double seconds = 0;
  if (unit.empty() || unit == "s")
    seconds = value;
  else if (unit == "ms")
    seconds = value / 1000;
  else if (unit == "m")
    seconds = value * 60;
  else if (unit == "h")
    seconds = value * 3600;
  else
    return false;
  if (!(seconds > 0) || seconds > 86400) return false;
  out_ns = static_cast<uint64_t>(seconds * 1e9);
  return out_ns > 0;
}

}  // namespace

int run_record(int argc, char** argv) {
  std::string frontend_listen, frontend_connect, backend_connect, backend_listen, output, timeout;
  std::vector<std::string> breaks, injects;
  std::string control;
  bool quiet = false;
  std::string sample_interval, device;
  std::string file_size, file_count, keep_last, keep_size, on_finding;
  bool status = false, interpose_notify = false, check = false;
  ArgParser parser(
      "record",
      "(--frontend-listen PATH | --frontend-connect PATH) (--backend-connect PATH | "
      "--backend-listen PATH) [-w FILE [-C SIZE [-W N]]] [--keep-last DURATION --on-finding DIR]",
      "Relays a vhost-user session between a front-end (QEMU) and a back-end, byte-exact with "
      "every\n"
      "passed fd, and records every message to a pcap capture. Each new front-end connection is a\n"
      "new session in the same capture. Stops on SIGINT/SIGTERM. docs/record.md has the details\n"
      "of rotation (-C, -W) and the flight recorder (--keep-last, --on-finding).");
  parser.option("frontend-listen", 0, "PATH", "listen here (mode 0600); the front-end connects",
                &frontend_listen);
  parser.option("frontend-connect", 0, "PATH",
                "connect to a front-end listening here (QEMU server=on)", &frontend_connect);
  parser.option("backend-connect", 0, "PATH",
                "connect to the back-end listening here, once per session", &backend_connect);
  parser.option("backend-listen", 0, "PATH",
                "listen here (mode 0600); the back-end connects (client mode)", &backend_listen);
  parser.option(
      "write", 'w', "FILE",
      "capture file to write (pcap, replaced if it exists; - writes the pcap stream to stdout)",
      &output);
  parser.option("file-size", 'C', "SIZE",
                "rotate: a new file once one has reached SIZE (as tcpdump: millions of bytes, or "
                "with k/M/G 1024-based); files FILE-000000.ext, FILE-000001.ext, ...",
                &file_size);
  parser.option("file-count", 'W', "N", "with -C: keep the newest N files, removing the oldest",
                &file_count);
  parser.option("keep-last", 0, "DURATION",
                "flight recorder: keep the last DURATION in memory (e.g. 30s, 5m; default 30s) "
                "for --on-finding",
                &keep_last);
  parser.option("keep-size", 0, "SIZE",
                "flight recorder: at most SIZE of records in memory (units as -C; default 64M)",
                &keep_size);
  parser.option("on-finding", 0, "DIR",
                "flight recorder: on a hang or error finding write the window around it to "
                "DIR/<time>-<finding>.pcap and .md (DIR created 0700); -w becomes optional",
                &on_finding);
  parser.option("connect-timeout", 0, "SECONDS",
                "how long to wait for a peer that is not there yet, at start-up (default 10); a "
                "back-end that went away later is not waited for (docs/outages.md)",
                &timeout);
  parser.option("sample-interval", 0, "MS",
                "map guest memory read-only and sample started virtqueues this often (default 50; "
                "0: off, no mapping)",
                &sample_interval);
  parser.option("device", 0, "KIND",
                "device kind for ring buffer details (blk, net, fs; default: inferred)", &device);
  parser.flag("status", 0, "print one line per started virtqueue to stderr every second", &status);
  parser.flag("check", 0,
              "run the conformance rules (docs/rules.md) live: one stderr line per violation",
              &check);
  parser.flag("interpose-notify", 0,
              "relay kick/call/err eventfds through the proxy and record each notification",
              &interpose_notify);
  parser.option_list("break", 0, "NAME",
                     "hold messages from this request on (name, 'any', 'finding', 'error' or "
                     "'finding:ID'; repeatable; docs/step.md)",
                     &breaks);
  parser.option_list("inject", 0, "SPEC",
                     "fault injection, recorded as such: drop:NAME, delay:NAME:MS, "
                     "replace-reply:NAME:HEX (repeatable; docs/step.md)",
                     &injects);
  parser.option("control", 0, "SOCK",
                "control socket (0600) for 'vhostscope ctl': status, step, continue, break",
                &control);
  parser.flag("quiet", 'q', "print errors only", &quiet);
  if (auto rc = parser.parse(argc, argv)) return *rc;

  install_signal_handlers();
  auto usage = [](const char* message) {
    std::fprintf(stderr, "vhostscope record: %s\nTry 'vhostscope record --help'.\n", message);
    return 2;
  };
  if (frontend_listen.empty() == frontend_connect.empty())
    return usage("give exactly one of --frontend-listen PATH and --frontend-connect PATH");
  if (backend_connect.empty() == backend_listen.empty())
    return usage("give exactly one of --backend-connect PATH and --backend-listen PATH");
  if (output.empty() && on_finding.empty())
    return usage("missing -w FILE (the capture to write) or --on-finding DIR");
  RotationOptions rotation;
  if (!file_size.empty()) {
    if (output.empty() || output == kStandardStream)
      return usage("-C needs -w FILE naming a file (the rotated files are named after it)");
    if (!parse_capture_size(file_size, rotation.max_bytes))
      return usage(
          "-C needs a size above 0: millions of bytes, or a number with k, M or G (1024-based)");
    rotation.path = output;
  }
  if (!file_count.empty()) {
    if (file_size.empty()) return usage("-W needs -C SIZE (it limits the rotated files)");
    auto [end, ec] = std::from_chars(file_count.data(), file_count.data() + file_count.size(),
                                     rotation.max_files);
    if (ec != std::errc() || end != file_count.data() + file_count.size() ||
        rotation.max_files == 0)
      return usage("-W needs a number of files above 0");
  }
  FlightRecorderOptions flight;
  if ((!keep_last.empty() || !keep_size.empty()) && on_finding.empty())
    return usage("--keep-last and --keep-size need --on-finding DIR (where windows are written)");
  if (!keep_last.empty() && !parse_duration(keep_last, flight.window.keep_ns))
    return usage("--keep-last needs a duration above 0 and at most 24h (e.g. 500ms, 30s, 5m, 1h)");
  if (!keep_size.empty()) {
    uint64_t bytes = 0;
    if (!parse_capture_size(keep_size, bytes))
      return usage("--keep-size needs a size above 0 (units as -C)");
    flight.window.max_bytes = static_cast<size_t>(bytes);
  }

  RelayOptions options;
  options.frontend = frontend_listen.empty()
                         ? RelayEndpoint{EndpointMode::Connect, frontend_connect}
                         : RelayEndpoint{EndpointMode::Listen, frontend_listen};
  options.backend = backend_listen.empty() ? RelayEndpoint{EndpointMode::Connect, backend_connect}
                                           : RelayEndpoint{EndpointMode::Listen, backend_listen};
  if (!timeout.empty() && !parse_seconds_option(timeout, options.connect_timeout, true))
    return usage("--connect-timeout needs a number of seconds (0 to 86400)");
  if (!sample_interval.empty()) {
    unsigned ms = 0;
    auto [end, ec] = std::from_chars(sample_interval.data(),
                                     sample_interval.data() + sample_interval.size(), ms);
    if (ec != std::errc() || end != sample_interval.data() + sample_interval.size() || ms > 60000)
      return usage("--sample-interval needs a number of milliseconds (0 to 60000)");
    options.sample_interval = std::chrono::milliseconds(ms);
  }
  if (status && options.sample_interval.count() == 0)
    return usage("--status shows ring samples: it needs --sample-interval > 0");
  if (!device.empty()) {
    std::string error;
    if (!parse_device_option(device, options.device, error)) return usage(error.c_str());
  }
  options.breaks = breaks;
  options.injects = injects;
  options.interpose_notify = interpose_notify;
  options.log = [quiet](LogLevel level, std::string_view text) {
    if (quiet && level == LogLevel::Info) return;
    // The relay's log quotes peer data (notes, names): one escaped line per entry.
    const std::string line = escape_text(text);
    std::fprintf(stderr, "vhostscope: %s\n", line.c_str());
  };

  // The relay first: a bad listen path must not leave an empty capture behind.
  std::string error;
  std::unique_ptr<Relay> relay = Relay::create(options, error);
  if (!relay) {
    std::fprintf(stderr, "vhostscope record: %s\n", escape_text(error).c_str());
    return 2;
  }
  // The capture: one file, rotated files, or none (flight recorder only).
  std::unique_ptr<CaptureWriter> writer;
  std::unique_ptr<RotatingRecorder> rotating;
  if (rotation.max_bytes != 0)
    rotating = RotatingRecorder::create(rotation, error);
  else if (!output.empty())
    writer = CaptureWriter::create(output, error);
  if (!output.empty() && !writer && !rotating) {
    std::fprintf(stderr, "vhostscope record: %s\n", escape_text(error).c_str());
    return 2;
  }
  const std::string first_file = rotating ? rotating->writer().current_path() : output;
  // The file we created, so that a recording that never reached its peer can take it back.
  struct stat created {};
  const bool created_file =
      !output.empty() && output != kStandardStream && ::lstat(first_file.c_str(), &created) == 0;
  // Flushing runs on the relay thread (timer); a write error (disk full) ends the recording.
  bool write_failed = false;
  auto flush_capture = [&writer, &rotating]() -> const std::string* {
    if (writer && !writer->flush()) return &writer->error();
    if (rotating && !rotating->writer().flush()) return &rotating->writer().error();
    return nullptr;
  };
  auto records_written = [&writer, &rotating]() -> uint64_t {
    if (writer) return writer->records_written();
    if (rotating) return rotating->writer().records_written();
    return 0;
  };
  Relay* r = relay.get();
  // Without a capture file, whether anything was recorded is counted here.
  RecordCounter counter;
  if (!writer && !rotating) relay->add_sink(&counter);
  if (writer || rotating) {
    RecordSink* sink = writer ? static_cast<RecordSink*>(writer.get()) : rotating.get();
    relay->add_sink(sink, [&flush_capture, r, &write_failed] {
      const std::string* failure = flush_capture();
      if (failure != nullptr && !write_failed) {
        write_failed = true;
        std::fprintf(stderr, "vhostscope record: %s; stopping\n", escape_text(*failure).c_str());
        r->stop();
      }
    });
  }
  std::unique_ptr<FlightRecorder> flight_recorder;
  uint64_t flight_keep_ns = 0;
  if (!on_finding.empty()) {
    flight.dir = on_finding;
    flight.tool_version = kToolVersion;
    flight.log = [](std::string_view line) {
      std::fprintf(stderr, "vhostscope: %s\n", escape_text(line).c_str());
    };
    flight_keep_ns = flight.window.keep_ns;
    flight_recorder = FlightRecorder::create(std::move(flight), error);
    if (!flight_recorder) {
      std::fprintf(stderr, "vhostscope record: %s\n", escape_text(error).c_str());
      return 2;
    }
    relay->add_sink(flight_recorder.get());
  }

  std::unique_ptr<RecordStatus> status_lines;
  if (status) {
    status_lines = std::make_unique<RecordStatus>();
    relay->add_sink(status_lines.get());
  }
  std::unique_ptr<LiveCheck> live_check;
  if (check) {
    live_check = std::make_unique<LiveCheck>(
        [](const std::string& line) { std::fprintf(stderr, "vhostscope: %s\n", line.c_str()); });
    relay->add_sink(live_check.get());
  }
  std::unique_ptr<ControlServer> control_server;
  if (!control.empty()) {
    control_server = ControlServer::start(
        control, [r](std::string_view line) { return r->debug_command(line); }, error);
    if (!control_server) {
      std::fprintf(stderr, "vhostscope record: %s\n", escape_text(error).c_str());
      return 2;
    }
  }
  g_relay.store(relay.get());
  if (g_stop_requested.load()) relay->stop();
  if (!quiet) {
    std::string front = frontend_listen.empty()
                            ? "connecting to the front-end at '" + frontend_connect + "'"
                            : "waiting for the front-end on '" + frontend_listen + "'";
    std::string where = output.empty() ? std::string("recording to memory only")
                                       : "recording to '" + first_file + "'";
    if (rotating)
      where += fmt::format(" (a new file after {} bytes{})", rotation.max_bytes,
                           rotation.max_files != 0
                               ? fmt::format(", keeping the newest {}", rotation.max_files)
                               : std::string());
    if (flight_recorder)
      where += fmt::format("; flight recorder: the last {:.3f} s in memory, windows to '{}'",
                           static_cast<double>(flight_keep_ns) / 1e9, on_finding);
    std::fprintf(stderr, "vhostscope: %s; %s\n", escape_text(where).c_str(),
                 escape_text(front).c_str());
  }
  int rc = relay->run();
  g_relay.store(nullptr);
  control_server.reset();
  if (const std::string* failure = flush_capture(); failure != nullptr && !write_failed) {
    write_failed = true;
    std::fprintf(stderr, "vhostscope record: %s\n", escape_text(*failure).c_str());
  }
  const uint64_t written = records_written();
  const bool to_file = writer || rotating;
  const uint64_t files = rotating ? rotating->writer().files_created() : 0;
  const std::string last_file = rotating ? rotating->writer().current_path() : output;
  relay.reset();
  writer.reset();
  rotating.reset();
  // Windows still open are written now, with what they have.
  if (flight_recorder) flight_recorder->stop();
  if (rc != 0 && (to_file ? written : counter.records) == 0 && !write_failed) {
    // The peer was never reached (the error is above): no session, so no capture. Removed only
    // while the path is still the file created above.
    struct stat now {};
    if (created_file && ::lstat(first_file.c_str(), &now) == 0 && now.st_dev == created.st_dev &&
        now.st_ino == created.st_ino)
      ::unlink(first_file.c_str());
    if (output.empty())
      std::fprintf(stderr, "vhostscope record: no session was recorded\n");
    else
      std::fprintf(stderr, "vhostscope record: no session was recorded; '%s' not written\n",
                   escape_text(first_file).c_str());
    return 2;
  }
  if (!quiet) {
    if (files > 1)
      std::fprintf(stderr, "vhostscope: %llu records written to %llu files, '%s' to '%s'\n",
                   static_cast<unsigned long long>(written), static_cast<unsigned long long>(files),
                   escape_text(first_file).c_str(), escape_text(last_file).c_str());
    else if (!output.empty())
      std::fprintf(stderr, "vhostscope: %llu records written to '%s'\n",
                   static_cast<unsigned long long>(written), escape_text(first_file).c_str());
    if (flight_recorder)
      std::fprintf(stderr, "vhostscope: flight recorder wrote %llu window(s) to '%s'\n",
                   static_cast<unsigned long long>(flight_recorder->windows_written()),
                   escape_text(on_finding).c_str());
  }
  if (write_failed) return 2;
  return rc;
}

}  // namespace vhs::cli
