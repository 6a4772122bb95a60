// Command line of vhostscope-gui: open a capture, or run the proxy live; plus the headless
// self-test modes (--screenshot renders every view and prints what it drew, --bench times frames).
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace vhs::gui {

struct Options {
  std::string capture;              // FILE to open
  std::string frontend_listen;      // live: --frontend-listen PATH
  std::string frontend_connect;     // live: --frontend-connect PATH
  std::string backend_connect;      // live: --backend-connect PATH
  std::string backend_listen;       // live: --backend-listen PATH
  std::string write;                // live: -w FILE, record while showing
  std::vector<std::string> breaks;  // live: --break NAME (repeatable), breakpoints from the start
  std::string device;               // --device blk|net|fs...: forced device kind
  // Self-test modes.
  std::string screenshot;    // --screenshot OUT.png|.ppm
  std::string view = "all";  // --view all|messages|detail|features|memory|rings|timeline|findings
  std::string bench;         // --bench VIEW: time frames of one view, print statistics
  int frames = 120;          // --frames N (bench)
  bool first_screen = false;  // --first-screen: screenshot of the first frame with rows
  int width = 1600, height = 1000;  // --size WxH (self-test window size)
  std::optional<uint32_t> select;   // --select N: record #N selected (1-based, as shown)
  std::string filter;               // --filter EXPR: initial filter text
  bool hide_samples = false;        // --hide-samples: no ring-state / notify rows in the list

  bool live() const { return !frontend_listen.empty() || !frontend_connect.empty(); }
  bool headless() const { return !screenshot.empty() || !bench.empty(); }
};

// Parses argv. Returns an exit code when the program must stop (0 after --help, 2 after a usage
// error that was printed), nullopt to continue.
std::optional<int> parse_options(int argc, char** argv, Options& out);

// The views --view / --bench accept, in display order ("messages" and "timeline" are always on
// screen; the others are the tabs of the right-hand pane).
const std::vector<std::string>& view_names();

}  // namespace vhs::gui
