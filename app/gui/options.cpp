// vhostscope-gui option parsing and usage text.
#include "app/gui/options.hpp"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>

namespace vhs::gui {
namespace {

constexpr const char* kUsage =
    "usage: vhostscope-gui [FILE]\n"
    "       vhostscope-gui --frontend-listen PATH --backend-connect PATH [-w FILE]\n"
    "\n"
    "Shows a vhost-user capture, or relays a live session between a front-end (QEMU) and a\n"
    "back-end and shows it as it happens.\n"
    "\n"
    "live session:\n"
    "  --frontend-listen PATH    listen for the front-end on PATH (QEMU connects)\n"
    "  --frontend-connect PATH   connect to a listening front-end (QEMU server=on)\n"
    "  --backend-connect PATH    connect to the back-end's socket\n"
    "  --backend-listen PATH     listen for the back-end on PATH\n"
    "  -w, --write FILE          also record the session to FILE (pcap)\n"
    "  --break NAME              start with a breakpoint (request name, any, finding, error,\n"
    "                            finding:ID; repeatable; docs/step.md)\n"
    "\n"
    "options:\n"
    "  --device KIND             device kind for feature names (blk, net, fs, ...)\n"
    "  --filter EXPR             start with this message filter\n"
    "  --select N                start with record #N selected\n"
    "  --hide-samples            hide ring-state and notify records from the message list\n"
    "                            (View menu, Ctrl+H; remembered)\n"
    "\n"
    "self-test (headless, e.g. under Xvfb):\n"
    "  --screenshot OUT.png      render the views, save OUT-<view>.png (.ppm also works), print\n"
    "                            what each view drew\n"
    "  --view NAME               all, messages, detail, features, memory, rings, picture, "
    "timeline,\n"
    "                            findings, stats, plots\n"
    "  --bench VIEW              render --frames N frames of VIEW and print frame times\n"
    "  --frames N                frames for --bench (default 120)\n"
    "  --first-screen            --screenshot: the first frame that shows rows, while the\n"
    "                            capture still loads and indexes (frames budgeted as live)\n"
    "  --size WxH                window size for the self-test modes (default 1600x1000)\n";

bool needs_value(std::string_view opt) {
  for (std::string_view o :
       {"--frontend-listen", "--frontend-connect", "--backend-connect", "--backend-listen", "-w",
        "--write", "--device", "--screenshot", "--view", "--bench", "--frames", "--size",
        "--select", "--filter", "--break"})
    if (o == opt) return true;
  return false;
}

bool is_view(const std::string& v) {
  if (v == "all") return true;
  for (const auto& n : view_names())
    if (n == v) return true;
  return false;
}

int usage_error(const std::string& msg) {
  std::fprintf(stderr, "vhostscope-gui: %s\n\n%s", msg.c_str(), kUsage);
  return 2;
}

}  // namespace

const std::vector<std::string>& view_names() {
  static const std::vector<std::string> names = {"messages", "detail",  "features", "memory",
                                                 "rings",    "picture", "timeline", "findings",
                                                 "stats",    "plots"};
  return names;
}

std::optional<int> parse_options(int argc, char** argv, Options& out) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    std::string value;
    if (arg == "-h" || arg == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (auto eq = arg.find('='); arg.starts_with("--") && eq != std::string::npos) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
      if (!needs_value(arg)) return usage_error("option " + arg + " takes no value");
    } else if (needs_value(arg)) {
      if (i + 1 >= argc) return usage_error("option " + arg + " needs a value");
      value = argv[++i];
    }
    if (arg == "--hide-samples")
      out.hide_samples = true;
    else if (arg == "--first-screen")
      out.first_screen = true;
    else if (arg == "--frontend-listen")
      out.frontend_listen = value;
    else if (arg == "--frontend-connect")
      out.frontend_connect = value;
    else if (arg == "--backend-connect")
      out.backend_connect = value;
    else if (arg == "--backend-listen")
      out.backend_listen = value;
    else if (arg == "-w" || arg == "--write")
      out.write = value;
    else if (arg == "--device")
      out.device = value;
    else if (arg == "--screenshot")
      out.screenshot = value;
    else if (arg == "--view")
      out.view = value;
    else if (arg == "--bench")
      out.bench = value;
    else if (arg == "--filter")
      out.filter = value;
    else if (arg == "--break")
      out.breaks.push_back(value);
    else if (arg == "--frames") {
      char* end = nullptr;
      long n = std::strtol(value.c_str(), &end, 10);
      if (*end || n <= 0 || n > 1000000) return usage_error("--frames needs a positive number");
      out.frames = static_cast<int>(n);
    } else if (arg == "--select") {
      char* end = nullptr;
      unsigned long n = std::strtoul(value.c_str(), &end, 10);
      if (*end || n == 0 || n > UINT32_MAX)
        return usage_error("--select needs a record number (1-based)");
      out.select = static_cast<uint32_t>(n);
    } else if (arg == "--size") {
      int w = 0, h = 0;
      if (std::sscanf(value.c_str(), "%dx%d", &w, &h) != 2 || w < 320 || h < 240 || w > 8192 ||
          h > 8192)
        return usage_error("--size needs WxH, e.g. 1600x1000");
      out.width = w;
      out.height = h;
    } else if (arg.starts_with("-")) {
      return usage_error("unknown option " + arg);
    } else if (out.capture.empty()) {
      out.capture = arg;
    } else {
      return usage_error("only one capture file can be opened");
    }
  }
  if (!out.frontend_listen.empty() && !out.frontend_connect.empty())
    return usage_error("use --frontend-listen or --frontend-connect, not both");
  if (!out.backend_connect.empty() && !out.backend_listen.empty())
    return usage_error("use --backend-connect or --backend-listen, not both");
  const bool backend = !out.backend_connect.empty() || !out.backend_listen.empty();
  if (out.live() != backend)
    return usage_error("a live session needs a front-end and a back-end endpoint");
  if (out.live() && !out.capture.empty())
    return usage_error("open a capture or run live, not both");
  if (!out.write.empty() && !out.live())
    return usage_error("-w records a live session: add the endpoints");
  if (!is_view(out.view)) return usage_error("unknown view '" + out.view + "'");
  if (!out.bench.empty() && (out.bench == "all" || !is_view(out.bench)))
    return usage_error(
        "--bench needs one view (messages, detail, features, memory, rings, timeline, findings)");
  if (out.headless() && out.capture.empty())
    return usage_error("the self-test modes need a capture FILE");
  if (out.first_screen && out.screenshot.empty())
    return usage_error("--first-screen goes with --screenshot");
  if (!out.screenshot.empty() && !out.bench.empty())
    return usage_error("use --screenshot or --bench, not both");
  return std::nullopt;
}

}  // namespace vhs::gui
