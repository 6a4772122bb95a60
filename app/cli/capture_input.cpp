#include "app/cli/capture_input.hpp"

#include <cstdio>

#include "app/common/option_values.hpp"

namespace vhs::cli {

std::optional<CaptureInput> open_capture_input(std::string_view command, const std::string& path,
                                               const std::string& device_text,
                                               const std::string& session_text) {
  std::string error, warning;
  Store::Options options;
  std::optional<uint32_t> session;
  if (!parse_device_option(device_text, options.device, error) ||
      !parse_session_option(session_text, session, error)) {
    std::fprintf(stderr, "vhostscope %.*s: %s\n", int(command.size()), command.data(),
                 error.c_str());
    return std::nullopt;
  }
  std::optional<CaptureInput> input{CaptureInput{Store(options), session}};
  if (!load_capture(path, input->store, warning, error)) {
    std::fprintf(stderr, "vhostscope %.*s: %s\n", int(command.size()), command.data(),
                 error.c_str());
    return std::nullopt;
  }
  // Printed before the output so it is not lost above a long listing.
  if (!warning.empty())
    std::fprintf(stderr, "vhostscope %.*s: warning: %s\n", int(command.size()), command.data(),
                 warning.c_str());
  return input;
}

}  // namespace vhs::cli
