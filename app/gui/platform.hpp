// The window and graphics side: GLFW window with an OpenGL 3 context, the ImGui context with its
// GLFW/OpenGL3 backends, DPI (content scale), the ini file location, and framebuffer read-back
// for screenshots. Everything below the views; nothing here knows about vhost-user.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

struct GLFWwindow;

namespace vhs::gui {

struct WindowOptions {
  int width = 1600, height = 1000;
  bool vsync = true;
  bool use_ini = true;    // false for the self-test modes: deterministic layout, nothing written
  bool use_mouse = true;  // false for the self-test modes: wherever the X pointer is, no hover
};

class Platform {
 public:
  Platform() = default;
  ~Platform();
  Platform(const Platform&) = delete;
  Platform& operator=(const Platform&) = delete;

  // false + `error` when there is no display or no OpenGL 3 context.
  bool init(const WindowOptions& options, std::string& error);

  bool should_close() const;
  void request_close();
  // Waits for input up to `timeout_s` (0: just poll), then starts an ImGui frame.
  void begin_frame(double timeout_s);
  // Renders the ImGui frame into the back buffer (end_ui() then draw()); `present` swaps it to
  // the screen. The halves are separate so the benchmark can time UI building and GL apart.
  void render();
  void end_ui();  // ImGui::Render(): the frame's draw lists are complete
  void draw();    // OpenGL: clear and draw the lists (waits for the GPU when `finish`)
  void finish_gl();
  void present();
  // RGB pixels of the back buffer (after render(), before present()), top row first.
  bool read_pixels(std::vector<uint8_t>& rgb, int& width, int& height) const;

  float content_scale() const { return scale_; }
  void window_size(int& w, int& h) const;
  void set_window_size(int w, int h);
  // Where the ImGui ini lives ($XDG_CONFIG_HOME/vhostscope/imgui.ini or ~/.config/...); "" if none.
  const std::string& ini_path() const { return ini_path_; }

 private:
  GLFWwindow* window_ = nullptr;
  bool imgui_ready_ = false;
  bool use_mouse_ = true;
  float scale_ = 1.0f;
  std::string ini_path_;
};

// Chooses and creates the directory of the ini file; "" when neither variable is usable.
std::string settings_path();

}  // namespace vhs::gui
