// Fuzz target 5: the Store over a capture and every formatter the CLI and the GUI print it with.
// Input: a whole capture file, loaded with load_capture as every read-only subcommand does. Then
// dump (each time format), dump -V, dump --json, summary (text and JSON), rings (text and JSON),
// stats (text and JSON), report, diff, all into strings as the subcommands build them.
// Properties: exporting the store and loading the records again (the GUI's "save") gives the same
// dump; a session compared with itself is identical.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "app/common/diff_format.hpp"
#include "app/common/dump_format.hpp"
#include "app/common/json_format.hpp"
#include "app/common/report_format.hpp"
#include "app/common/stats_format.hpp"
#include "app/common/summary_format.hpp"
#include "app/common/view_export.hpp"
#include "captures/diff/diff_capture.hpp"
#include "captures/model/store.hpp"
#include "decoders/virtio/ring_snapshot.hpp"
#include "tests/fuzz/fuzz_check.hpp"
#include "tests/fuzz/memory_file.hpp"

namespace {

using namespace vhs;

void dump(const Store& store) {
  for (const TimeFormat time :
       {TimeFormat::Relative, TimeFormat::Delta, TimeFormat::Absolute, TimeFormat::AbsoluteDate}) {
    LineOptions options;
    options.time = time;
    for (size_t i = 0; i < store.size(); ++i) {
      fuzz::consume(format_entry_line(store, i, options));
      options.previous_ns = store.entry(i).timestamp_ns;
    }
  }
  for (size_t i = 0; i < store.size(); ++i) {
    fuzz::consume(format_entry_details(store, i));
    fuzz::consume(json_line(entry_json(store, i)));
  }
}

// `vhostscope rings`: each RingState change, then the ring block; and --json with and without
// --end.
void rings(const Store& store, const StoreSession& s) {
  for (uint32_t i = s.first_entry; i <= s.last_entry && i < store.size(); ++i) {
    if (store.entry(i).kind != RecordKind::RingState || &store.session_of(i) != &s) continue;
    if (const auto snap = decode_ring_snapshot(store.bytes(i)))
      fuzz::consume(describe_ring_snapshot(*snap));
  }
  fuzz::consume(format_ring_block(store, s));
  for (const bool end_only : {false, true})
    fuzz::consume(json_line(session_rings_json(store, s, end_only)));
}

void sessions(const Store& store) {
  for (const StoreSession& s : store.sessions()) {
    fuzz::consume(format_session_summary(store, s));
    fuzz::consume(json_line(session_summary_json(store, s)));
    for (const WaitingRequest& w : waiting_requests(store, s)) fuzz::consume(format_waiting(w));
    for (const FindingGroup& g : finding_groups(store, s)) (void)g;
    rings(store, s);
    ReportOptions report;
    report.capture_name = "fuzz.pcap";
    report.tool_version = "vhostscope fuzz";
    report.session = s.id;
    fuzz::consume(format_report(store, report));
  }
  ReportOptions report;  // the session the report picks by itself
  report.context = 2;
  fuzz::consume(format_report(store, report));
}

void stats(const Store& store) {
  const CaptureStats all = compute_stats(store);
  fuzz::consume(format_stats(all));
  fuzz::consume(json_line(stats_json(all)));
  const CaptureStats messages =
      compute_stats(store, [&store](size_t i) { return store.entry(i).is_message(); });
  fuzz::consume(format_stats(messages));
}

void diff(const Store& store) {
  if (store.sessions().empty()) return;
  const StoreSession& first = store.sessions().front();
  const StoreSession& last = store.sessions().back();
  VHS_FUZZ_CHECK(diff_sessions(store, first, store, first).identical());
  const CaptureDiff d = diff_sessions(store, first, store, last);
  fuzz::consume(format_capture_diff(store, store, d, DiffFormatOptions{}));
  fuzz::consume(diff_summary_line(d));
}

// Saving what the store holds and loading it again must show the same records the same way.
void reingest(const Store& store) {
  Store again;
  VHS_FUZZ_CHECK(view::export_records(store, again) == store.size());
  again.finish();
  VHS_FUZZ_CHECK(again.size() == store.size());
  for (size_t i = 0; i < store.size(); ++i)
    VHS_FUZZ_CHECK(format_entry_line(again, i) == format_entry_line(store, i));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Store store;
  std::string warning, error;
  if (!load_capture(fuzz::write_memory_file({data, size}), store, warning, error)) return 0;
  dump(store);
  sessions(store);
  stats(store);
  diff(store);
  reingest(store);
  return 0;
}
