// A capture read through a memory map faults with SIGBUS when another process truncates the file
// while it is mapped: a page past the new end of file can no longer be read (mmap(2)); an I/O
// error behind the file does the same. What was in it is gone, but a reader must say so rather
// than die of a signal. While a mapping is
// watched, a fault at an address inside it prints which capture could no longer be read and exits
// with status 2 (could not run); a SIGBUS anywhere else goes to the disposition that was there
// before (the recorder's guest-memory fault guard, or the default action).
#pragma once

#include <cstddef>
#include <string>

namespace vhs {

// Watches [base, base + size) as the mapping of capture `path`. The message names the capture by
// `label`, which the caller has already escaped for a terminal (the presenters' escaper); without
// one, every byte of `path` outside printable ASCII is shown as '?'. At most a few mappings are
// watched at once (a command reads one or two captures); beyond that a mapping is not watched.
void watch_mapped_capture(const void* base, size_t size, const std::string& path,
                          const std::string& label = {});
void unwatch_mapped_capture(const void* base);

}  // namespace vhs
