// Opening the capture a read-only subcommand works on: its --device/--session options, loading,
// and the conventional error and warning lines ("vhostscope dump: cannot open capture ...").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "captures/model/store.hpp"

namespace vhs::cli {

struct CaptureInput {
  Store store;
  std::optional<uint32_t> session;  // --session N, if given
};

// nullopt after printing the error (the command then exits 2). A truncated capture prints a
// warning first and still loads what could be read.
std::optional<CaptureInput> open_capture_input(std::string_view command, const std::string& path,
                                               const std::string& device_text,
                                               const std::string& session_text);

}  // namespace vhs::cli
