// A capture read through a memory map faults with SIGBUS when another process truncates the file
// while it is mapped: a page past the new end of file can no longer be read (mmap(2)). What was
// in it is gone, but a reader must say so rather than die of a signal. While a mapping is
// watched, a SIGBUS at an address inside it prints which capture shrank and exits with status 2
// (could not run); a SIGBUS anywhere else goes to the disposition that was there before (the
// recorder's guest-memory fault guard, or the default action).
#pragma once

#include <cstddef>
#include <string>

namespace vhs {

// Watches [base, base + size) as the mapping of capture `path`. At most a few mappings are
// watched at once (a command reads one or two captures); beyond that a mapping is not watched.
void watch_mapped_capture(const void* base, size_t size, const std::string& path);
void unwatch_mapped_capture(const void* base);

}  // namespace vhs
