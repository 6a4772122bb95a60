// Writing screenshots: PNG (compressed by libpng) or binary PPM, chosen by the file name's
// extension.
#pragma once

#include <cstdint>
#include <span>
#include <string>

namespace vhs::gui {

// `rgb` holds width*height*3 bytes, top row first. false + `error` on an I/O or encoder failure.
bool write_image(const std::string& path, std::span<const uint8_t> rgb, int width, int height,
                 std::string& error);

}  // namespace vhs::gui
