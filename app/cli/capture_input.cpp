#include "app/cli/capture_input.hpp"

#include <cstdio>

#include <fmt/format.h>

#include "app/common/option_values.hpp"
#include "app/common/text_escape.hpp"
#include "captures/format/capture_file.hpp"
#include "captures/format/growing_file.hpp"

namespace vhs::cli {

namespace {

bool contains(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

}  // namespace

int fail(std::string_view command, const std::string& message) {
  // Messages quote file names, libpcap's words and capture text: one escaped line.
  std::fprintf(stderr, "vhostscope %.*s: %s\n", int(command.size()), command.data(),
               escape_text(message).c_str());
  return 2;
}

std::string missing_session_message(uint32_t session, const std::string& path) {
  return fmt::format("no session {} in '{}'", session, path);
}

std::string capture_error_in_our_words(const std::string& path, const std::string& error) {
  // libpcap's wording for a file shorter than its 24-byte header: "truncated dump file; tried to
  // read 4 file header bytes, only got N".
  if (contains(error, "file header bytes, only got 0"))
    return fmt::format("'{}' is empty (libpcap: {})", path, error.substr(error.rfind(": ") + 2));
  const auto detail = [&error] {
    const size_t colon = error.find("': ");
    return colon == std::string::npos ? error : error.substr(colon + 3);
  };
  if (contains(error, "file header bytes, only got"))
    return fmt::format("'{}' is not a pcap file: too short for a pcap header (libpcap: {})", path,
                       detail());
  if (contains(error, "unknown file format"))
    return fmt::format("'{}' is not a pcap file (libpcap: {})", path, detail());
  if (contains(error, "Is a directory"))
    return fmt::format("'{}' is a directory, not a capture file", path);
  return error;
}

bool load_capture_for(std::string_view command, const std::string& path, Store& store,
                      std::string* warning_out) {
  std::string error, warning;
  // The label is printed from a signal handler if the mapped file can no longer be read: escaped
  // here, where the presenters' escaper is.
  if (!load_capture(path, store, warning, error, escape_text(path))) {
    fail(command, capture_error_in_our_words(path, error));
    return false;
  }
  // Printed before the output so it is not lost above a long listing.
  if (!warning.empty())
    std::fprintf(stderr, "vhostscope %.*s: warning: %s\n", int(command.size()), command.data(),
                 escape_text(warning).c_str());
  if (warning_out) *warning_out = warning;
  return true;
}

void add_capture_file_argument(ArgParser& args, std::string* path) {
  args.positional(
      "FILE", "a capture written by 'vhostscope record' (pcap or pcapng), or - for stdin", path);
}

bool stream_capture_for(std::string_view command, const std::string& path, bool follow,
                        const std::atomic<bool>* stop, Store& store,
                        const std::function<bool(size_t)>& on_entry) {
  std::string error;
  GrowingFileOptions growing;
  growing.stop = stop;
  auto reader =
      follow ? CaptureReader::open_growing(path, growing, error) : CaptureReader::open(path, error);
  if (!reader) {
    fail(command, capture_error_in_our_words(path, error));
    return false;
  }
  Record record;
  while (reader->next(record)) {
    store.append(record);
    if (!on_entry(store.size() - 1)) break;
  }
  if (!reader->warning().empty() && !(stop != nullptr && stop->load()))
    std::fprintf(stderr, "vhostscope %.*s: warning: %s\n", int(command.size()), command.data(),
                 escape_text(reader->warning()).c_str());
  store.finish();
  return true;
}

std::optional<InputOptions> parse_input_options(std::string_view command,
                                                const std::string& device_text,
                                                const std::string& session_text) {
  std::string error;
  InputOptions options;
  if (!parse_device_option(device_text, options.store.device, error) ||
      !parse_session_option(session_text, options.session, error)) {
    fail(command, error);
    return std::nullopt;
  }
  return options;
}

std::optional<CaptureInput> open_capture_input(std::string_view command, const std::string& path,
                                               const std::string& device_text,
                                               const std::string& session_text,
                                               bool check_conformance) {
  auto options = parse_input_options(command, device_text, session_text);
  if (!options) return std::nullopt;
  options->store.check_conformance = check_conformance;
  const std::optional<uint32_t> session = options->session;
  std::optional<CaptureInput> input{CaptureInput{Store(options->store), session}};
  if (!load_capture_for(command, path, input->store)) return std::nullopt;
  if (session && !input->store.find_session(*session)) {
    fail(command, missing_session_message(*session, path));
    return std::nullopt;
  }
  return input;
}

}  // namespace vhs::cli
