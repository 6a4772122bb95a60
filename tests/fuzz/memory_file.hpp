// A fuzz input as a capture file. CaptureReader takes a path and opens it with fopen, exactly as
// `vhostscope dump FILE` does, so the input goes into one memfd that is rewritten for every run
// and opened again through /proc/self/fd: the reader's real path, without disk I/O per run.
#pragma once

#include <cstdint>
#include <span>
#include <string>

namespace vhs::fuzz {

// Replaces the file's contents with `bytes`; returns the path to open it by. Aborts when no memfd
// can be made (the target could not test anything).
const std::string& write_memory_file(std::span<const uint8_t> bytes);

}  // namespace vhs::fuzz
