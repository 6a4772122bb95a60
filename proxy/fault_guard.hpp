// Copies out of guest memory that cannot bring the proxy down. The proxy maps each memory-region
// fd read-only and shared; the front-end owns that file and may shrink it (ftruncate) at any time,
// after which touching a mapped page past the new end of file raises SIGBUS (mmap(2)). A sampler
// reading a ring there must get "not readable", not a dead recorder.
//
// Why a fault guard and not pread(2) on the region fd: a ring snapshot makes a handful to a few
// dozen small reads (index words, descriptor table, the oldest chains' buffers), and a syscall per
// read would cost more than the whole memcpy-based snapshot does today; it would also lose the
// regions whose fds do not support read(2) but do support mmap (device DAX). The guard keeps the
// read a plain memcpy plus one sigsetjmp (no syscall: the signal mask is not saved, the handler is
// installed with SA_NODEFER so SIGBUS is never left blocked).
//
// Only SIGBUS is guarded: it is the one signal another process can cause in a read-only shared
// mapping (shrunk file, hugetlbfs pool exhausted, I/O error or poisoned page behind the file).
// SIGSEGV there would mean our own bug (the mapping is never unmapped while a copy runs), so it
// keeps crashing the process.
#pragma once

#include <cstddef>
#include <cstdint>

namespace vhs {

// Installs the process-wide SIGBUS handler (once; later calls do nothing). The handler recovers
// only a fault raised by the kernel on the calling thread while it is inside guarded_copy() and at
// an address inside the source range being copied; every other SIGBUS goes to the disposition
// that was in place before (a previous handler is called, else the default action kills the
// process as it would have without us). False when sigaction failed (copies are then unguarded).
bool install_fault_guard();

// memcpy(dst, src, n) that returns false instead of dying when reading `src` faults with SIGBUS
// (dst then holds some unspecified prefix). Needs install_fault_guard() first. Not reentrant
// within one thread (a signal handler must not call it); any number of threads may use it at once.
bool guarded_copy(void* dst, const void* src, size_t n) noexcept;

// How many guarded copies on the calling thread have faulted since it started: a caller compares
// two readings to learn whether a batch of reads hit a vanished page.
uint64_t guarded_copy_faults() noexcept;

}  // namespace vhs
