// The views of vhostscope-gui. Each draws into the current ImGui window/child from AppState and
// emits intents through it (selection, controller calls); none touches a socket or a file.
#pragma once

#include <cstdint>
#include <span>

namespace vhs::gui {

struct AppState;

void draw_filter_bar(AppState& s);   // filter box, match count, finding stepping
void draw_step_bar(AppState& s);     // live: step / continue / breakpoints, what is held
void handle_step_keys(AppState& s);  // live: F10 step, F5 continue, F9 / Shift+F9 breakpoint
void draw_messages(AppState& s);     // virtualised message table
void draw_detail(AppState& s);       // field tree, findings, fds, hex of the selection
void draw_features(AppState& s);     // negotiation matrices
void draw_memory(AppState& s);       // memory map to scale, ring marks, guest memory
void draw_rings(AppState& s);        // per-queue state with a time slider, ring snapshots
void draw_timeline(AppState& s);     // lanes over time, zoom / pan, hangs, plots below
// Plots (completions/s, in flight, kicks/calls per second, reply latency) in a `width` x
// `height` area at the cursor, on the timeline's axis and range; `label_w` is the timeline's
// label column, so the plots line up with its lanes.
void draw_plots(AppState& s, float label_w, float width, float height);
void draw_findings(AppState& s);    // every finding, severity first
void draw_status_bar(AppState& s);  // mode, counts, session, pending replies
void draw_dialogs(AppState& s);     // open / save file dialogs, help, log

// Each queue's ring as a picture, scrubbed over the recorded ring states (a tab), and
// View > Statistics, the numbers of `vhostscope stats` (a window over the layout).
void draw_ring_picture(AppState& s);
void draw_stats_window(AppState& s);

// Hex pane over `bytes`: 16 bytes a line with offsets and ASCII; bytes [hl_offset, hl_offset +
// hl_length) highlighted. Returns the byte under the mouse (-1 when none).
int draw_hex(const char* id, std::span<const uint8_t> bytes, int hl_offset, int hl_length,
             uint64_t base_address = 0);

}  // namespace vhs::gui
