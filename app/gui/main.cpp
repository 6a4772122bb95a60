// Entry point of vhostscope-gui: parses the command line, opens the window, starts a capture
// load or a live relay through the controller, then runs frames until the window closes (or
// runs one of the headless self-test modes).
#include <csignal>
#include <cstdio>

#include "app/common/option_values.hpp"
#include "app/gui/app.hpp"
#include "app/gui/controller.hpp"
#include "app/gui/options.hpp"
#include "app/gui/platform.hpp"
#include "app/gui/self_test.hpp"
#include "app/gui/settings.hpp"

namespace {

volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

}  // namespace

int main(int argc, char** argv) {
  using namespace vhs::gui;
  Options opts;
  if (auto rc = parse_options(argc, argv, opts)) return *rc;
  vhs::DeviceKind device = vhs::DeviceKind::Unknown;
  std::string error;
  if (!vhs::parse_device_option(opts.device, device, error)) {
    std::fprintf(stderr, "vhostscope-gui: %s\n", error.c_str());
    return 2;
  }

  Platform platform;
  WindowOptions wo;
  wo.width = opts.width;
  wo.height = opts.height;
  wo.vsync = !opts.headless();
  wo.use_ini = !opts.headless();
  wo.use_mouse = !opts.headless();
  if (!platform.init(wo, error)) {
    std::fprintf(stderr, "vhostscope-gui: %s\n", error.c_str());
    return 1;
  }
  // The controller outlives the App that refers to it; both go before the platform (ImGui).
  Controller controller(device);
  App app(controller, opts);
  if (opts.headless()) {
    if (!opts.screenshot.empty()) return run_screenshot(platform, app, opts);
    return run_bench(platform, app, opts);
  }

  register_layout_settings(&app.state().layout);
  load_settings_now();
  app.force_tab(app.state().layout.tab);  // the tab open when the window last closed
  if (opts.hide_samples) app.state().layout.hide_samples = true;
  app.state().filter_dirty = true;  // the saved "hide samples" choice shapes the first rows
  platform.set_window_size(app.state().layout.window_width, app.state().layout.window_height);

  if (opts.live()) {
    LiveOptions lo;
    lo.frontend = opts.frontend_listen.empty()
                      ? vhs::RelayEndpoint{vhs::EndpointMode::Connect, opts.frontend_connect}
                      : vhs::RelayEndpoint{vhs::EndpointMode::Listen, opts.frontend_listen};
    lo.backend = opts.backend_listen.empty()
                     ? vhs::RelayEndpoint{vhs::EndpointMode::Connect, opts.backend_connect}
                     : vhs::RelayEndpoint{vhs::EndpointMode::Listen, opts.backend_listen};
    lo.write = opts.write;
    lo.breaks = opts.breaks;
    if (!controller.start_live(lo)) {
      std::fprintf(stderr, "vhostscope-gui: %s\n", controller.last_error().c_str());
      return 1;
    }
  } else if (!opts.capture.empty()) {
    controller.open_capture(opts.capture);
  }

  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  while (!platform.should_close() && !g_stop && !app.state().quit_requested) {
    // Idle: wake on input or 4 times a second; busy (loading, live, indexing): ~60 Hz.
    platform.begin_frame(app.busy() ? 1.0 / 60 : 0.25);
    app.frame();
    platform.window_size(app.state().layout.window_width, app.state().layout.window_height);
    note_layout_change(app.state().layout);
    platform.render();
    platform.present();
  }
  controller.stop_live();
  return 0;
}
