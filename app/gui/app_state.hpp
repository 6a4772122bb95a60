// What the views share within one GUI: the controller (model access and intents), the selection,
// the incremental indexes over the store, per-view UI state and the small caches that keep
// formatted text to the rows actually on screen. Plain data; App drives it once per frame.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "app/common/check_session.hpp"
#include "app/common/stats_format.hpp"
#include "app/common/step_controls.hpp"
#include "app/common/view_filter.hpp"
#include "app/common/view_index.hpp"
#include "app/common/view_lifecycle.hpp"
#include "app/common/view_navigation.hpp"
#include "app/common/view_plots.hpp"
#include "app/common/view_ring_picture.hpp"
#include "app/common/view_rings.hpp"
#include "app/common/view_timeline.hpp"
#include "app/gui/controller.hpp"

namespace vhs::gui {

// Saved in the ini file by number: new tabs go at the end.
enum class Tab : uint8_t { Detail = 0, Features, Memory, Rings, Findings, Picture, Count };
const char* tab_name(Tab t);  // "detail", "features", ...

// Formatted columns of one message row (dump_format), cached while it is on screen.
struct RowText {
  std::string time, title, summary, latency, markers;
};

// The findings list, severity first: (entry, index into Store::findings(entry)).
struct FindingRef {
  uint32_t entry = 0;
  uint32_t index = 0;
};

// Counts each view reports after drawing (the self-test prints them, the render test compares
// them with the model).
struct ViewStats {
  size_t message_rows = 0, message_visible = 0;
  size_t summary_chars = 0;  // the summary column's width, in characters of the list's font
  size_t request_chars = 0;  // the request column's width, likewise
  size_t detail_fields = 0, detail_fds = 0, detail_findings = 0;
  size_t feature_bits = 0, protocol_bits = 0, feature_mismatches = 0;
  size_t memory_regions = 0, memory_marks = 0;
  size_t ring_queues = 0, ring_records = 0, ring_snapshot_rows = 0;
  // Table columns the rings view drew, and how many of them start beyond the visible right edge.
  size_t ring_columns = 0, ring_columns_beyond = 0;
  size_t picture_queues = 0, picture_states = 0, picture_position = 0, picture_chains = 0;
  size_t picture_in_flight_cells = 0, picture_hands = 0;
  size_t stats_requests = 0, stats_queues = 0, stats_findings = 0;  // statistics window rows
  size_t timeline_lanes = 0, timeline_buckets = 0, timeline_hangs = 0;
  size_t timeline_gaps = 0, timeline_lifecycle = 0;  // idle markers drawn, lifecycle spans
  size_t plot_rows = 0, plot_columns = 0;            // plots drawn, pixel columns with a value
  size_t findings_total = 0;
  size_t pending = 0;
};

// The ImGui file browser's state (dialogs.cpp).
struct FileDialogState {
  struct Entry {
    std::string name;
    bool dir = false;
    uint64_t size = 0;
  };
  std::string dir, name, error;
  std::vector<Entry> entries;
  bool stale = true;
};

struct Layout {                       // persisted in the ini file (settings.cpp)
  float left_fraction = 0.62f;        // messages pane width / window width
  float timeline_height = 170.0f;     // in unscaled pixels
  float detail_hex_fraction = 0.42f;  // hex pane height / detail pane height
  Tab tab = Tab::Detail;
  int window_width = 1600, window_height = 1000;
  bool hide_samples = false;  // hide ring-state and notify records from the message list
};

struct AppState {
  explicit AppState(Controller& c) : ctl(c) {}
  Controller& ctl;
  const Store& store() const { return ctl.store(); }

  // Selection and navigation.
  uint32_t selected = view::kNoSelection;
  bool scroll_to_selected = false;  // set by keyboard / jumps; the message view scrolls once
  bool follow_tail = false;         // the message list was at its end last frame: keep it there
  size_t rows_seen = 0;
  bool delta_column_shown = false;  // the message list's Δt column is on (its header menu)
  size_t session_index = 0;         // session shown by features/memory/rings (follows selection)
  bool session_pinned = false;      // the user picked a session explicitly

  // Filter.
  std::string filter_text;
  std::string filter_error;
  size_t filter_error_pos = 0;
  bool filter_dirty = false;
  view::FilteredIndex rows;

  // Timeline.
  view::TimelineIndex timeline;
  view::TimeRange timeline_range;
  bool timeline_follow = true;  // the range fits all data until the user zooms/pans
  // The range above is in display positions of this axis (idle stretches compressed).
  view::TimeAxis timeline_axis;
  bool timeline_compress = true;
  bool timeline_reveal = false;  // move the range so the selection is on screen, once
  bool open_at_problem = false;  // a capture was opened: select its first error when indexed
  // --select N (0-based here): selected once the record exists, in place of the first error.
  std::optional<uint32_t> select_on_open;
  float timeline_zoom_from = -1;  // x where a zoom-to-selection drag started (-1: none)
  enum class BottomPane : uint8_t { Timeline, Plots, Both } bottom = BottomPane::Timeline;
  view::PlotsModel plots;
  // The timeline's lane buckets of the last frame, and what they were computed for.
  struct TimelineBuckets {
    std::vector<uint64_t> edges;
    size_t indexed = SIZE_MAX;
    uint64_t marks_version = 0;
    std::vector<std::vector<view::TimelineBucket>> per_lane;
    std::vector<bool> valid;
  } timeline_buckets;
  uint64_t timeline_marks_version = 0;  // bumped when the timeline's finding marks are rebuilt
  // The current session's device-status lifecycle (recomputed when the session or store changes).
  std::vector<view::LifecycleSpan> lifecycle;
  // Every session's lifecycle computed so far, by session index: computing one replays the whole
  // session through the checker (decoding each of its records), so switching back to a session
  // -- which selecting a record of another session does -- must not redo it. Emptied when a
  // record that can move a device status arrives or the store is replaced.
  std::vector<std::optional<std::vector<view::LifecycleSpan>>> lifecycle_by_session;
  size_t lifecycle_session = SIZE_MAX, lifecycle_store_size = SIZE_MAX;
  // The replay computing the current session's lifecycle, a few milliseconds per frame (a busy
  // session of millions of records takes longer than a frame).
  std::optional<StoreSessionReplay> lifecycle_replay;
  double lifecycle_computed_at = -1e9;  // ImGui time, to pace recomputation in a live session

  // Findings list (rebuilt when the flagged list changes).
  std::vector<FindingRef> findings;
  size_t findings_flagged_seen = SIZE_MAX;
  size_t findings_store_size = SIZE_MAX;

  // Rings time slider: entry the state is shown at, or "latest".
  bool rings_follow = true;
  uint32_t rings_at = 0;
  view::SessionReplay replay;
  std::vector<uint32_t>
      ring_records;  // RingState entries of the store, in order (indexed incrementally)
  size_t ring_records_scanned = 0;
  size_t backend_messages = 0;  // back-end channel messages seen by the same scan (ch column)
  // Longest request title ("GET_PROTOCOL_FEATURES reply") of the same scan, in characters: the
  // request column is as wide as the longest title in the capture, never narrower than
  // kMinRequestChars, so no title is cut.
  size_t request_chars = 0;
  size_t request_chars_applied = 0;  // what the column was last widened to (a user may resize it)

  // Ring picture (ring_picture_view.cpp): the session's ring states and the scrubber over them.
  struct RingPictureUi {
    bool follow = true;  // the scrubber follows the selected row (or the newest state)
    size_t position = 0;
    size_t session = SIZE_MAX;  // what `states` and `picture` were built for
    size_t ring_records_seen = 0;
    size_t built_position = SIZE_MAX;
    uint32_t selected_seen = view::kNoSelection;
    std::vector<uint32_t> states;
    view::RingPicture picture;
  } ring_picture;

  // Statistics window (View menu): `vhostscope stats` over the whole store, recomputed when the
  // store grew (at most once a second live).
  bool show_stats = false;
  CaptureStats capture_stats;
  size_t capture_stats_records = SIZE_MAX;
  double capture_stats_time = 0;

  // Detail: the field under the mouse (offset/length into the message) for hex highlighting.
  int hover_offset = -1, hover_length = 0;
  int hex_hover_byte = -1;
  std::string memory_address;  // memory view: address typed for the guest-memory hex view  // the
                               // byte under the mouse in the hex pane (last frame)

  // Caches of formatted text for visible rows; cleared when the store changes.
  std::unordered_map<uint32_t, RowText> row_cache;

  Layout layout;
  Tab tab = Tab::Detail;
  bool tab_forced = false;  // set by code (self-test, finding click): select the tab next frame

  // Dialogs and help.
  bool open_dialog = false, save_dialog = false, show_help = false, show_log = false;
  FileDialogState dialog;

  // Step debugging of the live relay (step bar, F5/F9/F10).
  view::StepControls step;

  bool quit_requested = false;

  ViewStats stats;
  bool headless = false;  // self-test: no ini, deterministic state

  void select(uint32_t entry, bool scroll = true);
};

}  // namespace vhs::gui
