// `vhostscope rings`: the live virtqueue state a recording sampled (RingState records), per
// session and queue: every change with its time, the state at the end, and the hang findings the
// ring_health rules raise over it (a stalled queue names its oldest in-flight request).
#include <cstdio>
#include <map>
#include <string>

#include <fmt/format.h>

#include "app/cli/args.hpp"
#include "app/cli/commands.hpp"
#include "captures/capture_file.hpp"
#include "decoders/ring_health.hpp"
#include "decoders/ring_snapshot.hpp"

namespace vhs::cli {

namespace {

struct SessionRings {
  uint64_t first_ns = 0;
  std::map<uint32_t, RingSnapshot> last;  // per queue
  RingHealth health;
  std::vector<HealthEvent> events;
  std::string changes;
  bool ended = false;
};

std::string seconds(uint64_t ns) { return fmt::format("{:.3f}s", static_cast<double>(ns) / 1e9); }

}  // namespace

int run_rings(int argc, char** argv) {
  std::string path;
  bool changes_only_end = false;
  ArgParser args("rings", "FILE [--end]",
                 "Virtqueue state over time as the recorder sampled it (record --sample-interval): per\n"
                 "session and queue each change (indices, in-flight count and heads, the oldest in-flight\n"
                 "request), the state at the end, and stalls (in-flight work, used index frozen >= 1 s).");
  args.positional("FILE", "a capture written by 'vhostscope record'", &path);
  args.flag("end", 'e', "only the state at the end and the findings, not every change", &changes_only_end);
  if (auto rc = args.parse(argc, argv)) return *rc;

  std::string error;
  auto reader = CaptureReader::open(path, error);
  if (!reader) {
    std::fprintf(stderr, "vhostscope rings: %s\n", error.c_str());
    return 2;
  }
  std::map<uint32_t, SessionRings> sessions;
  Record r;
  uint64_t last_ns = 0;
  size_t bad = 0;
  while (reader->next(r)) {
    last_ns = std::max(last_ns, r.timestamp_ns);
    SessionRings& s = sessions[r.session];
    if (s.first_ns == 0) s.first_ns = r.timestamp_ns;
    if (r.kind == RecordKind::Disconnect && r.channel == Channel::Frontend) {
      // Findings still active when the session ended are the interesting ones: keep them, but
      // let time run to the disconnect first so a frozen ring gets its stall.
      s.health.advance(r.timestamp_ns, s.events);
      s.ended = true;
      continue;
    }
    if (r.kind != RecordKind::RingState) continue;
    auto snap = decode_ring_snapshot(r.bytes);
    if (!snap) {
      ++bad;
      continue;
    }
    s.health.advance(r.timestamp_ns, s.events);
    s.health.observe(*snap, r.timestamp_ns, s.events);
    if (!changes_only_end)
      s.changes += fmt::format("  +{} {}\n", seconds(r.timestamp_ns - s.first_ns), describe_ring_snapshot(*snap));
    s.last[snap->queue] = std::move(*snap);
  }
  if (!reader->warning().empty()) std::fprintf(stderr, "vhostscope rings: warning: %s\n", reader->warning().c_str());

  std::string out;
  size_t shown = 0;
  for (auto& [id, s] : sessions) {
    if (s.last.empty()) continue;
    ++shown;
    if (!s.ended) s.health.advance(last_ns, s.events);
    out += fmt::format("Session {}\n", id);
    if (!changes_only_end) out += " changes:\n" + s.changes;
    out += " at the end:\n";
    for (const auto& [queue, snap] : s.last) out += "  " + describe_ring_snapshot(snap) + "\n";
    auto active = s.health.active();
    if (!active.empty()) out += " findings:\n";
    for (const HealthEvent& e : active)
      out += fmt::format("  {} q{} since +{}: {}\n", finding_info(e.finding.code).id, e.queue,
                         seconds(e.since_ns - s.first_ns), e.finding.detail);
  }
  if (shown == 0) out += "no ring state in this capture (record with --sample-interval > 0)\n";
  if (bad > 0) out += fmt::format("{} RingState record(s) could not be decoded\n", bad);
  std::fwrite(out.data(), 1, out.size(), stdout);
  return 0;
}

}  // namespace vhs::cli
