// Writing screenshots: PNG (uncompressed deflate "stored" blocks: no zlib dependency, and the
// images are only for tests and docs) or binary PPM, chosen by the file name's extension.
#pragma once

#include <cstdint>
#include <span>
#include <string>

namespace vhs::gui {

// `rgb` holds width*height*3 bytes, top row first. false + `error` on an I/O failure.
bool write_image(const std::string& path, std::span<const uint8_t> rgb, int width, int height,
                 std::string& error);

}  // namespace vhs::gui
