// Headless modes of vhostscope-gui, used by the render test and the GUI benchmark under Xvfb:
// --screenshot renders each view, saves the framebuffer and prints what every view drew as
// "key=value" lines; --bench renders N frames of one view and prints frame-time statistics.
#pragma once

#include "app/gui/app.hpp"
#include "app/gui/options.hpp"
#include "app/gui/platform.hpp"

namespace vhs::gui {

int run_screenshot(Platform& platform, App& app, const Options& options);
int run_bench(Platform& platform, App& app, const Options& options);

}  // namespace vhs::gui
