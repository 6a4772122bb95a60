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

#include "app/cli/args.hpp"
#include "app/cli/commands.hpp"
#include "app/cli/record_status.hpp"
#include "app/common/live_check.hpp"
#include "app/common/option_values.hpp"
#include "app/common/text_escape.hpp"
#include "captures/format/capture_file.hpp"
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

bool parse_seconds(const std::string& text, std::chrono::milliseconds& out) {
  double seconds = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), seconds);
  if (ec != std::errc() || end != text.data() + text.size() || !(seconds >= 0) || seconds > 86400)
    return false;
  out = std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
  return true;
}

}  // namespace

int run_record(int argc, char** argv) {
  std::string frontend_listen, frontend_connect, backend_connect, backend_listen, output, timeout;
  std::vector<std::string> breaks, injects;
  std::string control;
  bool quiet = false;
  std::string sample_interval, device;
  bool status = false, interpose_notify = false, check = false;
  ArgParser parser(
      "record",
      "(--frontend-listen PATH | --frontend-connect PATH) (--backend-connect PATH | "
      "--backend-listen PATH) -w FILE",
      "Relays a vhost-user session between a front-end (QEMU) and a back-end, byte-exact with "
      "every\n"
      "passed fd, and records every message to a pcap capture. Each new front-end connection is a\n"
      "new session in the same capture. Stops on SIGINT/SIGTERM.");
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
  if (output.empty()) return usage("missing -w FILE (the capture to write)");

  RelayOptions options;
  options.frontend = frontend_listen.empty()
                         ? RelayEndpoint{EndpointMode::Connect, frontend_connect}
                         : RelayEndpoint{EndpointMode::Listen, frontend_listen};
  options.backend = backend_listen.empty() ? RelayEndpoint{EndpointMode::Connect, backend_connect}
                                           : RelayEndpoint{EndpointMode::Listen, backend_listen};
  if (!timeout.empty() && !parse_seconds(timeout, options.connect_timeout))
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
  std::unique_ptr<CaptureWriter> writer = CaptureWriter::create(output, error);
  if (!writer) {
    std::fprintf(stderr, "vhostscope record: %s\n", escape_text(error).c_str());
    return 2;
  }
  // The file we created, so that a recording that never reached its peer can take it back.
  struct stat created {};
  const bool created_file = output != kStandardStream && ::lstat(output.c_str(), &created) == 0;
  // Flushing runs on the relay thread (timer); a write error (disk full) ends the recording.
  bool write_failed = false;
  CaptureWriter* w = writer.get();
  Relay* r = relay.get();
  relay->add_sink(writer.get(), [w, r, &write_failed] {
    if (!w->flush() && !write_failed) {
      write_failed = true;
      std::fprintf(stderr, "vhostscope record: %s; stopping\n", escape_text(w->error()).c_str());
      r->stop();
    }
  });

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
    std::fprintf(stderr, "vhostscope: recording to '%s'; %s\n", escape_text(output).c_str(),
                 escape_text(front).c_str());
  }
  int rc = relay->run();
  g_relay.store(nullptr);
  control_server.reset();
  if (!w->flush() && !write_failed) {
    write_failed = true;
    std::fprintf(stderr, "vhostscope record: %s\n", escape_text(w->error()).c_str());
  }
  const uint64_t written = w->records_written();
  relay.reset();
  writer.reset();
  if (rc != 0 && written == 0 && !write_failed) {
    // The peer was never reached (the error is above): no session, so no capture. Removed only
    // while the path is still the file created above.
    struct stat now {};
    if (created_file && ::lstat(output.c_str(), &now) == 0 && now.st_dev == created.st_dev &&
        now.st_ino == created.st_ino)
      ::unlink(output.c_str());
    std::fprintf(stderr, "vhostscope record: no session was recorded; '%s' not written\n",
                 escape_text(output).c_str());
    return 2;
  }
  if (!quiet)
    std::fprintf(stderr, "vhostscope: %llu records written to '%s'\n",
                 static_cast<unsigned long long>(written), escape_text(output).c_str());
  if (write_failed) return 2;
  return rc;
}

}  // namespace vhs::cli
