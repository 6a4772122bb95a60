// `vhostscope exercise`: drives a real back-end as a scripted front-end and virtio driver
// (proxy/exercise/engine.hpp), prints one line per check, runs the conformance rules over what it
// recorded, and exits 0 when every check passed, 1 when one failed, 2 when it could not run.
#include <signal.h>

#include <charconv>
#include <cstdio>
#include <string>

#include <fmt/format.h>

#include "app/cli/args.hpp"
#include "app/cli/capture_input.hpp"
#include "app/cli/commands.hpp"
#include "app/common/check_session.hpp"
#include "app/common/json_format.hpp"
#include "app/common/option_values.hpp"
#include "app/common/text_escape.hpp"
#include "captures/format/capture_file.hpp"
#include "captures/model/store.hpp"
#include "decoders/conformance/rules.hpp"
#include "proxy/exercise/engine.hpp"
#include "proxy/exercise/lifecycle_scenarios.hpp"

namespace vhs::cli {
namespace {

using exercise::CheckOutcome;
using exercise::Verdict;

constexpr std::string_view kCommand = "exercise";

template <class T>
bool parse_number(const std::string& text, T& out, T low, T high, int base = 10) {
  std::string_view t = text;
  if (base == 16 && (t.starts_with("0x") || t.starts_with("0X"))) t.remove_prefix(2);
  T v{};
  auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v, base);
  if (ec != std::errc() || end != t.data() + t.size() || v < low || v > high) return false;
  out = v;
  return true;
}

std::string_view verdict_name(Verdict v) {
  switch (v) {
    case Verdict::Pass: return "pass";
    case Verdict::Fail: return "FAIL";
    case Verdict::Unsupported: return "unsupported";
  }
  return "?";
}

std::string records_text(const CheckOutcome& c) {
  if (c.first_record == 0) return "";
  // Ring I/O sends no messages: name where in the capture the check ran.
  if (c.last_record < c.first_record)
    return c.first_record > 1 ? fmt::format("after #{}", c.first_record - 1) : "";
  if (c.first_record == c.last_record) return fmt::format("#{}", c.first_record);
  return fmt::format("#{}-#{}", c.first_record, c.last_record);
}

// Tees records to the capture file (when asked for) and to a Store for the conformance rules.
class Tee final : public RecordSink {
 public:
  Tee(RecordSink* a, RecordSink* b) : a_(a), b_(b) {}
  void on_record(const Record& r) override {
    if (a_) a_->on_record(r);
    if (b_) b_->on_record(r);
  }

 private:
  RecordSink* a_;
  RecordSink* b_;
};

// The conformance rules over the recorded session: one check per side.
std::vector<CheckOutcome> conformance_checks(const Store& store) {
  std::vector<CheckOutcome> out;
  for (Side side : {Side::Backend, Side::Frontend}) {
    CheckOutcome c;
    c.id = side == Side::Backend ? "conformance.backend" : "conformance.frontend";
    c.what = side == Side::Backend
                 ? "the back-end breaks no rule of 'vhostscope check' in the recorded session"
                 : "the engine itself (the front-end) breaks no rule of 'vhostscope check'";
    std::vector<std::string> lines;
    for (const StoreSession& s : store.sessions())
      for (const Violation& v : check_store_session(store, s).violations) {
        if (v.blamed != side) continue;
        if (c.first_record == 0) c.first_record = c.last_record = record_number_value(v.message);
        if (lines.size() < 3)
          lines.push_back(fmt::format("{} at #{}: {}", rule_info(v.rule).id,
                                      record_number_value(v.message), v.observed));
        else if (lines.size() == 3)
          lines.push_back("...");
      }
    c.verdict = lines.empty() ? Verdict::Pass : Verdict::Fail;
    for (const std::string& l : lines) c.reason += (c.reason.empty() ? "" : "; ") + l;
    out.push_back(std::move(c));
  }
  return out;
}

std::string format_text(const exercise::ExerciseOptions& o, const exercise::ExerciseResult& r,
                        const std::string& capture) {
  std::string out = fmt::format(
      "exercise: {} back-end at '{}': {} {} queue(s) of {}, features 0x{:x}, protocol features "
      "0x{:x}\n",
      device_kind_name(o.device),
      escape_text(o.backend_listen.empty() ? o.backend_connect : o.backend_listen), r.queues,
      o.packed_ring ? "packed" : "split", o.queue_size, r.acked_features,
      r.acked_protocol_features);
  size_t width = 5;
  for (const CheckOutcome& c : r.checks) width = std::max(width, c.id.size());
  out +=
      fmt::format("{:<{}}  {:<11}  {:<13}  {}\n", "CHECK", width, "VERDICT", "RECORDS", "REASON");
  size_t pass = 0, fail = 0, unsupported = 0;
  for (const CheckOutcome& c : r.checks) {
    pass += c.verdict == Verdict::Pass;
    fail += c.verdict == Verdict::Fail;
    unsupported += c.verdict == Verdict::Unsupported;
    std::string line =
        fmt::format("{:<{}}  {:<11}  {:<13}  {}", c.id, width, verdict_name(c.verdict),
                    c.verdict == Verdict::Fail ? records_text(c) : "", escape_text(c.reason));
    line.erase(line.find_last_not_of(' ') + 1);
    out += line + "\n";
  }
  for (const exercise::BenchFigure& f : r.bench)
    out += escape_text(exercise::describe_bench_figure(f)) + "\n";
  for (const exercise::NetBenchFigure& f : r.net_bench)
    out += escape_text(exercise::describe_net_bench_figure(f)) + "\n";
  out += fmt::format("exercise: {}: {} passed, {} failed, {} unsupported; {} records{}\n",
                     fail == 0 ? "PASS" : "FAIL", pass, fail, unsupported, r.records,
                     capture.empty() ? "" : fmt::format(" in '{}'", escape_text(capture)));
  return out;
}

// One net --bench figure; the fields a blk figure has keep their names (seconds, latency_us,
// error), the rest say what is counted each way.
Json net_bench_json(const exercise::NetBenchFigure& f) {
  Json b;
  b["queue_pair"] = f.queue_pair;
  b["frame_size"] = f.frame_size;
  b["ring_bytes"] = f.ring_bytes;
  b["window"] = f.window;
  b["sent"] = f.sent;
  b["received"] = f.received;
  b["lost"] = f.lost;
  b["unexpected"] = f.unexpected;
  b["mismatched_frames"] = f.mismatched_frames;
  b["mismatched_bytes"] = f.mismatched_bytes;
  b["seconds"] = f.seconds;
  b["tx_pps"] = f.tx_pps;
  b["rx_pps"] = f.rx_pps;
  b["tx_gbit_per_s"] = f.tx_gbit_per_s;
  b["rx_gbit_per_s"] = f.rx_gbit_per_s;
  b["latency_us"] = {{"p50", f.p50_us}, {"p99", f.p99_us}, {"p99.9", f.p999_us}};
  b["error"] = f.error;
  return b;
}

std::string format_json(const exercise::ExerciseOptions& o, const exercise::ExerciseResult& r,
                        const std::string& capture) {
  Json j;
  j["schema"] = kJsonSchema;
  j["type"] = "exercise";
  j["device"] = device_kind_name(o.device);
  j["ring"] = o.packed_ring ? "packed" : "split";
  j["backend"] = o.backend_listen.empty() ? o.backend_connect : o.backend_listen;
  j["queues"] = r.queues;
  j["queue_size"] = o.queue_size;
  j["features"] = fmt::format("0x{:x}", r.acked_features);
  j["protocol_features"] = fmt::format("0x{:x}", r.acked_protocol_features);
  j["capture"] = capture;
  j["records"] = r.records;
  Json checks = Json::array();
  size_t failed = 0;
  for (const CheckOutcome& c : r.checks) {
    Json x;
    x["id"] = c.id;
    x["what"] = c.what;
    x["verdict"] = c.verdict == Verdict::Pass   ? "pass"
                   : c.verdict == Verdict::Fail ? "fail"
                                                : "unsupported";
    x["reason"] = c.reason;
    x["first_record"] = c.first_record;
    x["last_record"] = c.last_record;
    failed += c.verdict == Verdict::Fail;
    checks.push_back(std::move(x));
  }
  j["checks"] = std::move(checks);
  if (o.bench) {
    Json bench = Json::array();
    for (const exercise::BenchFigure& f : r.bench) {
      Json b;
      b["queue"] = f.queue;
      b["depth"] = f.depth;
      b["block_size"] = f.block_size;
      b["requests"] = f.requests;
      b["seconds"] = f.seconds;
      b["iops"] = f.iops;
      b["mib_per_s"] = f.mib_per_s;
      b["latency_us"] = {{"p50", f.p50_us}, {"p99", f.p99_us}, {"p99.9", f.p999_us}};
      b["error"] = f.error;
      bench.push_back(std::move(b));
    }
    for (const exercise::NetBenchFigure& f : r.net_bench) bench.push_back(net_bench_json(f));
    j["bench"] = std::move(bench);
  }
  j["passed"] = failed == 0;
  return json_line(j) + "\n";
}

std::string format_junit(const exercise::ExerciseOptions& o, const exercise::ExerciseResult& r) {
  std::string cases;
  size_t failures = 0, skipped = 0;
  const std::string suite = fmt::format("vhostscope exercise {}", device_kind_name(o.device));
  for (const CheckOutcome& c : r.checks) {
    cases += fmt::format("    <testcase classname=\"{}\" name=\"{}\">\n", xml_escape(suite),
                         xml_escape(c.id));
    if (c.verdict == Verdict::Fail) {
      ++failures;
      cases += fmt::format("      <failure message=\"{}\">{}\nrecords: {}</failure>\n",
                           xml_escape(c.reason), xml_escape(c.what), records_text(c));
    } else if (c.verdict == Verdict::Unsupported) {
      ++skipped;
      cases += fmt::format("      <skipped message=\"{}\"/>\n", xml_escape(c.reason));
    }
    // The --bench figures go with the bench check, one line each as the text report prints them.
    if (c.id == "bench" && (!r.bench.empty() || !r.net_bench.empty())) {
      // Escaped line by line: xml_escape writes a newline as the two characters \n.
      std::string lines;
      for (const exercise::BenchFigure& f : r.bench)
        lines += xml_escape(exercise::describe_bench_figure(f)) + "\n";
      for (const exercise::NetBenchFigure& f : r.net_bench)
        lines += xml_escape(exercise::describe_net_bench_figure(f)) + "\n";
      cases += fmt::format("      <system-out>{}</system-out>\n", lines);
    }
    cases += "    </testcase>\n";
  }
  return fmt::format(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<testsuites name=\"vhostscope exercise\" tests=\"{}\" failures=\"{}\">\n"
      "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"{}\">\n{}"
      "  </testsuite>\n</testsuites>\n",
      r.checks.size(), failures, xml_escape(suite), r.checks.size(), failures, skipped, cases);
}

bool write_output(const std::string& path, const std::string& text) {
  if (path.empty() || path == "-") {
    std::fwrite(text.data(), 1, text.size(), stdout);
    return true;
  }
  FILE* f = std::fopen(path.c_str(), "w");
  if (!f) {
    fail(kCommand, fmt::format("cannot write '{}'", escape_text(path)));
    return false;
  }
  const bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size();
  return std::fclose(f) == 0 && ok;
}

std::string scenario_list() {
  std::string s;
  for (const auto& sc : exercise::lifecycle_scenarios())
    s += fmt::format("  {:<14} {}\n", sc.name, sc.what);
  return s;
}

}  // namespace

int run_exercise(int argc, char** argv) {
  std::string connect, listen, device_text = "blk", timeout_text, duration_text, queues_text,
                               size_text, depth_text, features_text, protocol_text, output,
                               format_text_opt, out_path, workload_text, shared_dir,
                               connect_timeout_text, bench_time_text, ring_text, backend_command;
  bool bench = false;
  bool indirect = false;
  std::vector<std::string> scenarios;
  ArgParser args(
      "exercise",
      "(--backend-connect SOCK | --backend-listen SOCK) [--backend-command CMD]\n"
      "       --device blk|fs|net\n"
      "       [--scenario NAME|all]... [--workload default|none] [--duration S] [--queues N]\n"
      "       [--queue-size N] [--queue-depth N] [--ring split|packed] [--indirect]\n"
      "       [--timeout S] [--features MASK]\n"
      "       [--protocol-features MASK] [--bench [--bench-time S]] [-w capture.pcap]\n"
      "       [--format text|json|junit] [-o FILE]",
      "Drives a live vhost-user back-end without a VM: vhostscope is the front-end and the virtio\n"
      "driver. It negotiates like QEMU 7.2 for the device (the masks narrow it), hands over guest\n"
      "memory as memfd regions, sets up every queue, moves data through the rings and checks it\n"
      "(every used element too), then runs the lifecycle scenarios asked for. Everything is\n"
      "recorded (-w: a capture 'summary', 'check' and the GUI open), and the conformance rules\n"
      "run over the recording. One line per check: pass, FAIL (with the capture record numbers)\n"
      "or unsupported (naming what the back-end does not offer).\n"
      "Scenarios:\n" +
          scenario_list() +
          "Exit status: 0 every check passed, 1 a check failed, 2 could not run.");
  args.option("backend-connect", 0, "SOCK", "connect to the back-end listening here", &connect);
  args.option("backend-listen", 0, "SOCK", "listen here (mode 0600) for a back-end to connect",
              &listen);
  args.option("backend-command", 0, "CMD",
              "start the back-end with this command line (/bin/sh -c) and own it: "
              "lifecycle.backend-crash kills and restarts it",
              &backend_command);
  args.option("device", 'd', "KIND", "blk (default), fs or net", &device_text);
  args.option_list("scenario", 0, "NAME", "a lifecycle scenario (repeatable), or all", &scenarios);
  args.option("workload", 0, "WHICH",
              "default: the device's data checks; none: the protocol set-up alone", &workload_text);
  args.option("duration", 0, "S", "repeat the queue-depth data check for this long (default 0)",
              &duration_text);
  args.option("queues", 'q', "N",
              "queues to set up (default: blk what the back-end has, up to "
              "4; fs and net 2)",
              &queues_text);
  args.option("queue-size", 0, "N", "descriptors per queue, a power of 2 (default 128)",
              &size_text);
  args.option("queue-depth", 0, "N", "chains in flight per queue in the data checks (default 8)",
              &depth_text);
  args.option("timeout", 't', "S", "how long a reply or a completion may take (default 5)",
              &timeout_text);
  args.option("connect-timeout", 0, "S", "how long to wait for the back-end (default 5)",
              &connect_timeout_text);
  args.option("features", 0, "MASK",
              "virtio feature bits that may be acked (hex; default: what QEMU 7.2 acks)",
              &features_text);
  args.option("protocol-features", 0, "MASK",
              "protocol feature bits that may be acked (hex; default: what QEMU 7.2 acks)",
              &protocol_text);
  args.option("ring", 0, "LAYOUT",
              "split (default) or packed: packed virtqueues, acking VIRTIO_F_RING_PACKED (a "
              "back-end that does not offer it is reported unsupported)",
              &ring_text);
  args.flag("indirect", 0,
            "place chains of two or more buffers in indirect descriptor tables (needs "
            "VIRTIO_RING_F_INDIRECT_DESC)",
            &indirect);
  args.flag("bench", 0,
            "blk: measure reads at queue depth 1 and 32, block size 4k and 64k, per queue; net: "
            "packets/s of 64, 512 and 1518-byte frames sent and received back, per queue pair",
            &bench);
  args.option("bench-time", 0, "S", "how long each --bench measurement runs (default 1)",
              &bench_time_text);
  args.option("shared-dir", 0, "DIR", "fs: the directory the back-end shares", &shared_dir);
  args.option("write", 'w', "FILE", "record the session to this capture", &output);
  args.option("format", 'f', "FMT", "text (default), json or junit", &format_text_opt);
  args.option("output", 'o', "FILE", "write the report here (default: standard output)", &out_path);
  if (auto rc = args.parse(argc, argv)) return *rc;

  exercise::ExerciseOptions o;
  if (connect.empty() == listen.empty())
    return fail(kCommand, "give exactly one of --backend-connect SOCK and --backend-listen SOCK");
  o.backend_connect = connect;
  o.indirect = indirect;
  if (ring_text == "packed")
    o.packed_ring = true;
  else if (!ring_text.empty() && ring_text != "split")
    return fail(kCommand,
                fmt::format("--ring must be split or packed, not '{}'", escape_text(ring_text)));
  o.backend_listen = listen;
  o.backend_command = backend_command;
  o.device = device_kind_from_name(device_text);
  if (o.device != DeviceKind::Blk && o.device != DeviceKind::Fs && o.device != DeviceKind::Net)
    return fail(kCommand,
                fmt::format("--device must be blk, fs or net, not '{}'", escape_text(device_text)));
  if (!timeout_text.empty() &&
      (!parse_seconds_option(timeout_text, o.timeout, true) || o.timeout.count() == 0))
    return fail(kCommand, "--timeout needs a number of seconds above 0");
  if (!connect_timeout_text.empty() &&
      !parse_seconds_option(connect_timeout_text, o.connect_timeout, true))
    return fail(kCommand, "--connect-timeout needs a number of seconds");
  if (!duration_text.empty() && !parse_seconds_option(duration_text, o.duration, true))
    return fail(kCommand, "--duration needs a number of seconds");
  if (!queues_text.empty() && !parse_number<unsigned>(queues_text, o.queues, 1, 64))
    return fail(kCommand, "--queues needs a number from 1 to 64");
  if (!size_text.empty() && (!parse_number<uint16_t>(size_text, o.queue_size, 2, 32768) ||
                             (o.queue_size & (o.queue_size - 1)) != 0))
    return fail(kCommand, "--queue-size needs a power of 2 from 2 to 32768");
  if (!depth_text.empty() && !parse_number<unsigned>(depth_text, o.queue_depth, 1, 1024))
    return fail(kCommand, "--queue-depth needs a number from 1 to 1024");
  // A blk write is three descriptors (header, data, status).
  if (o.queue_depth * 3 > o.queue_size)
    return fail(kCommand, fmt::format("--queue-depth {} needs a queue size of at least {}",
                                      o.queue_depth, o.queue_depth * 3));
  uint64_t mask = 0;
  if (!features_text.empty()) {
    if (!parse_number<uint64_t>(features_text, mask, 0, UINT64_MAX, 16))
      return fail(kCommand, "--features needs a hex mask");
    o.features_mask = mask;
  }
  if (!protocol_text.empty()) {
    if (!parse_number<uint64_t>(protocol_text, mask, 0, UINT64_MAX, 16))
      return fail(kCommand, "--protocol-features needs a hex mask");
    o.protocol_features_mask = mask;
  }
  if (workload_text == "none")
    o.run_workload = false;
  else if (!workload_text.empty() && workload_text != "default")
    return fail(kCommand, "--workload must be default or none");
  for (const std::string& s : scenarios) {
    if (s == "all") {
      for (const auto& sc : exercise::lifecycle_scenarios()) o.scenarios.emplace_back(sc.name);
    } else if (exercise::is_lifecycle_scenario(s)) {
      o.scenarios.push_back(s);
    } else {
      return fail(kCommand, fmt::format("unknown scenario '{}' (see 'vhostscope exercise --help')",
                                        escape_text(s)));
    }
  }
  o.shared_dir = shared_dir;
  o.bench = bench;
  if (!bench_time_text.empty() &&
      (!parse_seconds_option(bench_time_text, o.bench_each, true) || o.bench_each.count() == 0))
    return fail(kCommand, "--bench-time needs a number of seconds above 0");
  enum class Format { Text, Json, Junit } format = Format::Text;
  if (format_text_opt == "json")
    format = Format::Json;
  else if (format_text_opt == "junit")
    format = Format::Junit;
  else if (!format_text_opt.empty() && format_text_opt != "text")
    return fail(kCommand, "--format must be text, json or junit");

  std::string error;
  std::unique_ptr<CaptureWriter> writer;
  if (!output.empty()) {
    writer = CaptureWriter::create(output, error);
    if (!writer) return fail(kCommand, escape_text(error));
  }
  Store::Options store_options;
  store_options.device = o.device;
  store_options.check_conformance = true;
  Store store(store_options);
  Tee tee(writer.get(), &store);
  o.capture = &tee;
  signal(SIGPIPE, SIG_IGN);  // a vanished back-end is a failed check, not a reason to die

  exercise::ExerciseResult result = exercise::run_exercise(o);
  if (writer && !writer->flush())
    return fail(kCommand,
                fmt::format("writing '{}': {}", escape_text(output), escape_text(writer->error())));
  if (!result.ran) return fail(kCommand, escape_text(result.error));
  store.finish();
  for (CheckOutcome& c : conformance_checks(store)) result.checks.push_back(std::move(c));

  const std::string text = format == Format::Json    ? format_json(o, result, output)
                           : format == Format::Junit ? format_junit(o, result)
                                                     : format_text(o, result, output);
  if (!write_output(out_path, text)) return 2;
  for (const CheckOutcome& c : result.checks)
    if (c.verdict == Verdict::Fail) return 1;
  return 0;
}

}  // namespace vhs::cli
