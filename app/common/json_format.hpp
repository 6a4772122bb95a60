// Machine-readable output of the CLI (`dump --json`, `summary --json`, `rings --json`, `stats
// --json`): the same facts the text formatters print, as JSON built with nlohmann-json. The schema
// is docs/json.md; every top-level object carries `"schema": kJsonSchema` so a script can tell
// which version it reads. Objects keep their keys in insertion order (ordered_json) so output is
// stable for golden files and readable by people.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "captures/model/store.hpp"
#include "decoders/conformance/checker.hpp"

namespace vhs {

using Json = nlohmann::ordered_json;

// Bumped when a documented key changes meaning or disappears (adding keys does not bump it).
inline constexpr std::string_view kJsonSchema = "vhostscope/1";

// One line of JSON text: invalid UTF-8 in capture text (notes, fd names) is replaced, never
// thrown on, so a hostile capture cannot stop the output.
std::string json_line(const Json& value);

// One store entry as `dump --json` prints it (one object per line, "type": "record").
Json entry_json(const Store& store, size_t i);

// One session's summary (features, memory, vrings, back-end channel, rings, findings, waiting).
Json session_summary_json(const Store& store, const StoreSession& session);

// The ring state of one session for `rings --json`: every change (unless `end_only`), the newest
// state per queue and the ring finding episodes.
Json session_rings_json(const Store& store, const StoreSession& session, bool end_only);

// Pieces shared by the objects above and by stats.
Json fd_json(const FdInfo& fd);
Json finding_json(const Finding& f);
// One conformance violation: rule, blamed side, records, expected/observed, spec sections.
Json violation_json(const Violation& v);
uint64_t record_number_value(size_t entry_index);  // 1-based, like "#N" in text output

}  // namespace vhs
