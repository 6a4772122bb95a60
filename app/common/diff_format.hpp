// Text rendering of a capture diff (captures/diff/diff_capture.hpp) in unified-diff style: hunks of
// aligned records with context, "-" for records only in A, "+" for records only in B, "!" for an
// aligned record whose fields differ followed by "-"/"+" lines per field. Used by `vhostscope
// diff`.
#pragma once

#include <cstddef>
#include <string>

#include "captures/diff/diff_capture.hpp"
#include "captures/model/store.hpp"

namespace vhs {

struct DiffFormatOptions {
  std::string a_label = "a";  // "before.pcap session 1"
  std::string b_label = "b";
  size_t context = 3;          // unchanged records shown around each change
  bool show_expected = false;  // also list differences classified as expected ("~" lines)
};

// The whole diff text; empty hunks list when identical, but always the header and summary lines.
std::string format_capture_diff(const Store& a, const Store& b, const CaptureDiff& diff,
                                const DiffFormatOptions& options = {});

// "diff: 1 changed, 2 only in a, 0 only in b, 37 same" / "diff: no differences (40 records
// compared)"
std::string diff_summary_line(const CaptureDiff& diff);

}  // namespace vhs
