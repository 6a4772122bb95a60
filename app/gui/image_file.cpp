// PNG through libpng's simplified write API (8-bit RGB, deflate-compressed) and PPM (P6).
#include "app/gui/image_file.hpp"

#include <png.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "captures/format/output_file.hpp"

namespace vhs::gui {
namespace {

bool write_png(FILE* f, std::span<const uint8_t> rgb, int width, int height, std::string& error) {
  png_image image;
  std::memset(&image, 0, sizeof image);
  image.version = PNG_IMAGE_VERSION;
  image.width = static_cast<png_uint_32>(width);
  image.height = static_cast<png_uint_32>(height);
  image.format = PNG_FORMAT_RGB;
  const bool ok = png_image_write_to_stdio(&image, f, 0, rgb.data(), width * 3, nullptr) != 0;
  if (!ok) error = std::string("PNG encoder: ") + image.message;
  png_image_free(&image);
  return ok;
}

}  // namespace

bool write_image(const std::string& path, std::span<const uint8_t> rgb, int width, int height,
                 std::string& error) {
  if (width <= 0 || height <= 0 ||
      rgb.size() != static_cast<size_t>(width) * static_cast<size_t>(height) * 3) {
    error = "bad image dimensions";
    return false;
  }
  FILE* f = open_output_stream(path, error);  // no links, FIFOs or devices
  if (!f) return false;
  bool ok = true;
  if (path.ends_with(".ppm")) {
    const std::string head =
        "P6\n" + std::to_string(width) + " " + std::to_string(height) + "\n255\n";
    ok = std::fwrite(head.data(), 1, head.size(), f) == head.size() &&
         std::fwrite(rgb.data(), 1, rgb.size(), f) == rgb.size();
    if (!ok) error = "cannot write '" + path + "': " + std::strerror(errno);
  } else if (!write_png(f, rgb, width, height, error)) {
    error = "cannot write '" + path + "': " + error;
    ok = false;
  }
  const int saved = errno;
  if (std::fclose(f) != 0 && ok) {
    error = "cannot write '" + path + "': " + std::strerror(saved ? saved : errno);
    ok = false;
  }
  return ok;
}

}  // namespace vhs::gui
