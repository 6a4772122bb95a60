// `vhostscope rings`: the live virtqueue state a recording sampled (RingState records), per
// session and queue: every change with its time, the state at the end, and the ring hang
// episodes the Store derived from them (the same ones `summary`, `report` and the GUI show; a
// stalled queue names its oldest in-flight request).
#include <cstdio>
#include <string>

#include <fmt/format.h>

#include "app/cli/args.hpp"
#include "app/cli/capture_input.hpp"
#include "app/cli/commands.hpp"
#include "app/common/json_format.hpp"
#include "app/common/summary_format.hpp"
#include "app/common/text_format.hpp"
#include "decoders/virtio/ring_snapshot.hpp"

namespace vhs::cli {

namespace {

size_t undecodable_ring_states(const Store& store) {
  size_t bad = 0;
  for (uint32_t i : store.flagged()) {
    if (store.entry(i).kind != RecordKind::RingState) continue;
    for (const Finding& f : store.findings(i)) bad += f.code == FindingCode::InvalidField;
  }
  return bad;
}

int print_rings_json(const Store& store, const std::optional<uint32_t>& session, bool end_only) {
  Json sessions = Json::array();
  for (const StoreSession& s : store.sessions()) {
    if (session && s.id != *session) continue;
    if (s.rings.empty() && s.rings.episodes().empty()) continue;
    sessions.push_back(session_rings_json(store, s, end_only));
  }
  Json j;
  j["schema"] = std::string(kJsonSchema);
  j["type"] = "rings";
  j["sessions"] = std::move(sessions);
  j["undecodable"] = undecodable_ring_states(store);
  const std::string out = json_line(j) + "\n";
  std::fwrite(out.data(), 1, out.size(), stdout);
  return 0;
}

}  // namespace

int run_rings(int argc, char** argv) {
  std::string path, session_text, device_text;
  bool changes_only_end = false, json = false;
  ArgParser args(
      "rings", "FILE [--end] [--session N] [--json]",
      "Virtqueue state over time as the recorder sampled it (record samples every 50 ms by\n"
      "default): per session and queue each change (indices, in-flight count and heads, the\n"
      "oldest in-flight request), the state at the end, and ring hangs (in-flight work, used\n"
      "index frozen >= 1 s), current or ended.");
  add_capture_file_argument(args, &path);
  args.flag("end", 'e', "only the state at the end and the findings, not every change",
            &changes_only_end);
  args.option("session", 's', "N", "only session N", &session_text);
  args.option("device", 'd', "KIND",
              "decode device fields as blk, net or fs (default: inferred per session)",
              &device_text);
  args.flag("json", 0, "one JSON object (docs/json.md) instead of text", &json);
  if (auto rc = args.parse(argc, argv)) return *rc;

  auto input = open_capture_input("rings", path, device_text, session_text);
  if (!input) return 2;
  const Store& store = input->store;
  if (json) return print_rings_json(store, input->session, changes_only_end);

  std::string out;
  size_t shown = 0;
  for (const StoreSession& s : store.sessions()) {
    if (input->session && s.id != *input->session) continue;
    if (s.rings.empty() && s.rings.episodes().empty()) continue;
    ++shown;
    out += fmt::format("Session {}\n", s.id);
    if (!changes_only_end && !s.rings.empty()) {  // findings without samples: no changes to list
      out += " changes:\n";
      const uint64_t first = store.entry(s.first_entry).timestamp_ns;
      for (uint32_t i = s.first_entry; i <= s.last_entry; ++i) {
        const StoreEntry& e = store.entry(i);
        if (e.kind != RecordKind::RingState || &store.session_of(i) != &s) continue;
        auto snap = store.ring_snapshot(i);
        out += fmt::format("  +{:.3f}s {}\n", static_cast<double>(e.timestamp_ns - first) / 1e9,
                           snap ? describe_ring_snapshot(*snap) : "(not understood)");
      }
    }
    out += format_ring_block(store, s);
  }
  if (shown == 0)
    out +=
        "no ring state in this capture (recorded with --sample-interval 0, or no ring was "
        "started)\n";
  const size_t bad = undecodable_ring_states(store);
  if (bad > 0) out += fmt::format("{} RingState record(s) could not be decoded\n", bad);
  std::fwrite(out.data(), 1, out.size(), stdout);
  return 0;
}

}  // namespace vhs::cli
