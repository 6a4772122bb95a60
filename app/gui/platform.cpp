// GLFW + OpenGL 3 + ImGui backends; DPI scale; ini location; framebuffer read-back.
#include "app/gui/platform.hpp"

#define GL_SILENCE_DEPRECATION
#include <GLFW/glfw3.h>
#include <imgui.h>
#include <imgui_impl_glfw.h>
#include <imgui_impl_opengl3.h>

#include <algorithm>
#include <cfloat>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <system_error>

#include "app/gui/style.hpp"

namespace vhs::gui {

std::string settings_path() {
  namespace fs = std::filesystem;
  fs::path dir;
  if (const char* x = std::getenv("XDG_CONFIG_HOME"); x && *x == '/')
    dir = fs::path(x) / "vhostscope";
  else if (const char* h = std::getenv("HOME"); h && *h == '/')
    dir = fs::path(h) / ".config" / "vhostscope";
  else
    return {};
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return {};
  return (dir / "imgui.ini").string();
}

Platform::~Platform() {
  if (imgui_ready_) {
    ImGui_ImplOpenGL3_Shutdown();
    ImGui_ImplGlfw_Shutdown();
    ImGui::DestroyContext();  // writes the ini file when one is set
  }
  if (window_) {
    // Unbind before destroying: Mesa frees the context's last state only when it is not current.
    glfwMakeContextCurrent(nullptr);
    glfwDestroyWindow(window_);
  }
  glfwTerminate();
}

bool Platform::init(const WindowOptions& options, std::string& error) {
  glfwSetErrorCallback([](int code, const char* text) {
    std::fprintf(stderr, "vhostscope-gui: GLFW error %d: %s\n", code, text);
  });
  if (!glfwInit()) {
    error = "cannot initialise GLFW (no display? set DISPLAY or run under Xvfb)";
    return false;
  }
  glfwWindowHint(GLFW_CONTEXT_VERSION_MAJOR, 3);
  glfwWindowHint(GLFW_CONTEXT_VERSION_MINOR, 0);
  glfwWindowHint(GLFW_SCALE_TO_MONITOR, GLFW_TRUE);
  window_ = glfwCreateWindow(options.width, options.height, "vhostscope", nullptr, nullptr);
  if (!window_) {
    error = "cannot create an OpenGL 3.0 window";
    return false;
  }
  glfwMakeContextCurrent(window_);
  glfwSwapInterval(options.vsync ? 1 : 0);
  use_mouse_ = options.use_mouse;
  float sx = 1, sy = 1;
  glfwGetWindowContentScale(window_, &sx, &sy);
  scale_ =
      options.use_ini ? std::max(sx, sy) : 1.0f;  // self-test output must not depend on the screen

  IMGUI_CHECKVERSION();
  ImGui::CreateContext();
  ImGuiIO& io = ImGui::GetIO();
  if (options.use_ini) {
    ini_path_ = settings_path();
    io.IniFilename = ini_path_.empty() ? nullptr : ini_path_.c_str();
  } else {
    io.IniFilename = nullptr;
  }
  setup_fonts_and_style(scale_);
  if (!ImGui_ImplGlfw_InitForOpenGL(window_, true) || !ImGui_ImplOpenGL3_Init("#version 130")) {
    error = "cannot initialise the ImGui GLFW/OpenGL3 backends";
    return false;
  }
  imgui_ready_ = true;
  return true;
}

bool Platform::should_close() const { return window_ && glfwWindowShouldClose(window_); }

void Platform::request_close() {
  if (window_) glfwSetWindowShouldClose(window_, GLFW_TRUE);
}

void Platform::begin_frame(double timeout_s) {
  if (timeout_s > 0)
    glfwWaitEventsTimeout(timeout_s);
  else
    glfwPollEvents();
  ImGui_ImplOpenGL3_NewFrame();
  ImGui_ImplGlfw_NewFrame();
  if (!use_mouse_) ImGui::GetIO().MousePos = ImVec2(-FLT_MAX, -FLT_MAX);
  ImGui::NewFrame();
}

void Platform::render() {
  end_ui();
  draw();
}

void Platform::end_ui() { ImGui::Render(); }

void Platform::finish_gl() { glFinish(); }

void Platform::draw() {
  int w = 0, h = 0;
  glfwGetFramebufferSize(window_, &w, &h);
  glViewport(0, 0, w, h);
  glClearColor(0.08f, 0.08f, 0.09f, 1.0f);
  glClear(GL_COLOR_BUFFER_BIT);
  ImGui_ImplOpenGL3_RenderDrawData(ImGui::GetDrawData());
}

void Platform::present() { glfwSwapBuffers(window_); }

bool Platform::read_pixels(std::vector<uint8_t>& rgb, int& width, int& height) const {
  glfwGetFramebufferSize(window_, &width, &height);
  if (width <= 0 || height <= 0) return false;
  std::vector<uint8_t> raw(static_cast<size_t>(width) * static_cast<size_t>(height) * 3);
  glPixelStorei(GL_PACK_ALIGNMENT, 1);
  glReadBuffer(GL_BACK);
  glReadPixels(0, 0, width, height, GL_RGB, GL_UNSIGNED_BYTE, raw.data());
  if (glGetError() != GL_NO_ERROR) return false;
  // OpenGL's origin is the bottom-left corner; images start at the top.
  rgb.resize(raw.size());
  const size_t row = static_cast<size_t>(width) * 3;
  for (int y = 0; y < height; ++y)
    std::copy_n(raw.data() + static_cast<size_t>(height - 1 - y) * row, row,
                rgb.data() + static_cast<size_t>(y) * row);
  return true;
}

void Platform::window_size(int& w, int& h) const { glfwGetWindowSize(window_, &w, &h); }

void Platform::set_window_size(int w, int h) {
  // A size remembered on a bigger screen (or the 1600x1000 default) must still fit this one.
  if (GLFWmonitor* m = glfwGetPrimaryMonitor()) {
    int x = 0, y = 0, mw = 0, mh = 0;
    glfwGetMonitorWorkarea(m, &x, &y, &mw, &mh);
    if (mw > 0 && mh > 0) {
      w = std::min(w, mw * 95 / 100);
      h = std::min(h, mh * 92 / 100);
    }
  }
  if (w >= 320 && h >= 240) glfwSetWindowSize(window_, w, h);
}

}  // namespace vhs::gui
