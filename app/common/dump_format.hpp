// What `dump` prints for one store entry (and what the GUI's message list shows in its columns):
// the one-line form, its parts, and the verbose detail block (field tree, findings, hex).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "captures/model/store.hpp"

namespace vhs {

// How a record's time is printed (tshark's -t r, d, a, ad).
enum class TimeFormat : uint8_t {
  Relative,      // seconds since the first record: "12.000153"
  Delta,         // seconds since the previous record shown (LineOptions::previous_ns)
  Absolute,      // UTC time of day: "10:20:30.000153Z"
  AbsoluteDate,  // UTC date and time: "2024-05-01 10:20:30.000153Z"
};

struct LineOptions {
  TimeFormat time = TimeFormat::Relative;
  // Delta: the timestamp of the previous record shown; nullopt for the first one (prints 0).
  std::optional<uint64_t> previous_ns;
};

// "   0.000153 #3     s1 B→F fe GET_FEATURES reply VERSION_1|PROTOCOL_FEATURES [153.0 µs]"
std::string format_entry_line(const Store& store, size_t i, const LineOptions& options = {});
// The same line without the time and record number columns ("s1 B→F fe GET_FEATURES reply ..."),
// e.g. for Wireshark's Info column, which has its own.
std::string format_entry_body(const Store& store, size_t i);

// What entry_title appends to a reply's request name (an ack answers NEED_REPLY).
inline constexpr std::string_view kReplyTitleSuffix = " reply";
inline constexpr std::string_view kAckTitleSuffix = " ack";

// Parts of the line, for column views.
std::string entry_time(const Store& store, size_t i, const LineOptions& options = {});
std::string entry_title(const Store& store,
                        size_t i);  // "GET_FEATURES reply", "connect", "Unknown (99)"
std::string entry_summary(const Store& store,
                          size_t i);  // key fields and fds, or the record's note
std::string entry_latency(const Store& store, size_t i);  // "153.0 µs" on answered replies, else ""
std::string finding_markers(const Store& store, size_t i);   // "!size-mismatch !unanswered"
std::string record_flag_tags(const Store& store, size_t i);  // "(not relayed) (injected)"

// `dump -V` block under the line: field tree, findings with details, pairing, hex dump.
std::string format_entry_details(const Store& store, size_t i);

}  // namespace vhs
