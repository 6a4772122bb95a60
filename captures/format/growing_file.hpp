// Reading a capture that is still being written, the way `tail -f` reads a log: a stdio stream
// over the file whose reads wait at the end of the file for more bytes instead of reporting end
// of file, until the caller asks them to stop. libpcap then parses the growing file with its usual
// reader: a record whose bytes are not all written yet is simply waited for, never mistaken for a
// truncated file.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>

namespace vhs {

struct GrowingFileOptions {
  // Checked between waits; once true, a read at the end of the file reports end of file.
  const std::atomic<bool>* stop = nullptr;
  // How often the end of the file is looked at again. The recorder flushes every 15 ms.
  std::chrono::milliseconds poll_interval{20};
};

// A read-only stream over `path` ("rb"), or nullptr with `error` set. The options must outlive the
// stream. Close it with fclose (libpcap's pcap_close does).
FILE* open_growing_file(const std::string& path, const GrowingFileOptions& options,
                        std::string& error);

}  // namespace vhs
