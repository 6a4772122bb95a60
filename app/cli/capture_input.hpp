// Opening the capture a read-only subcommand works on: its --device/--session options, loading,
// and the conventional error and warning lines ("vhostscope dump: cannot open capture ..."), so
// every command says the same thing, with the same exit code (2), for the same situation.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "app/cli/args.hpp"
#include "captures/model/store.hpp"

namespace vhs::cli {

struct CaptureInput {
  Store store;
  std::optional<uint32_t> session;  // --session N, if given (it exists in the capture)
};

// The FILE argument every reading command takes, with one help text ("-" is standard input).
void add_capture_file_argument(ArgParser& args, std::string* path);

// --device and --session as given, before any capture is read.
struct InputOptions {
  Store::Options store;
  std::optional<uint32_t> session;
};
// nullopt after printing the error (a bad option value).
std::optional<InputOptions> parse_input_options(std::string_view command,
                                                const std::string& device_text,
                                                const std::string& session_text);

// nullopt after printing the error (the command then exits 2): a bad option value, a capture
// that cannot be read, or a --session the capture does not hold. A truncated capture prints a
// warning first and still loads what could be read.
// `check_conformance`: the command reads every session's violations (Store::Options).
std::optional<CaptureInput> open_capture_input(std::string_view command, const std::string& path,
                                               const std::string& device_text,
                                               const std::string& session_text,
                                               bool check_conformance = false);

// Feeds the records of `path` to `store` one at a time as they can be read, calling
// `on_entry(index)` after each (false from it stops reading): "-" reads standard input as it
// arrives; `follow` waits at the end of the file for the records a running recorder has not
// written yet, until *stop is set (SIGINT). The error or warning is printed as `command`; false on
// error. The store is finished (end-of-capture rules) when reading stops.
bool stream_capture_for(std::string_view command, const std::string& path, bool follow,
                        const std::atomic<bool>* stop, Store& store,
                        const std::function<bool(size_t)>& on_entry);

// Loads `path` into `store`, printing the error or warning as `command`; false on error.
bool load_capture_for(std::string_view command, const std::string& path, Store& store,
                      std::string* warning_out = nullptr);

// What reading a capture failed with, in our words: libpcap's messages for an empty file or one
// that is not a pcap file at all are restated ("'x.pcap' is empty"), with libpcap's text kept in
// parentheses as the detail.
std::string capture_error_in_our_words(const std::string& path, const std::string& error);

// The one message for a session number a capture does not hold: "no session 5 in 'x.pcap'".
std::string missing_session_message(uint32_t session, const std::string& path);

// Prints "vhostscope <command>: <message>" to stderr and returns 2 (usage or input error).
int fail(std::string_view command, const std::string& message);

}  // namespace vhs::cli
