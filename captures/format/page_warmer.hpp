// Faulting pages in on the other core, ahead of the thread that will use them. Loading a big
// capture touches a lot of fresh memory: the store's index chunks (every 4 KiB or 2 MiB page is
// zeroed by the kernel on its first touch) and the capture file's pages. On this kind of virtual
// machine a page fault costs microseconds and zeroing runs below 1 GB/s, so a fifth of a
// 10M-record summary was the kernel clearing pages for the one ingest thread. A single background
// thread runs madvise(MADV_POPULATE_WRITE / MADV_POPULATE_READ) over ranges handed to it; the
// memory's contents do not change (the kernel only installs the pages), so the owner may write to
// a range while it is being warmed.
//
// Every range is forgotten before its memory is unmapped (forget() waits for a populate that is
// running on it), so the thread never faults in pages of a mapping that replaced it. In a forked
// child both calls return at once and nothing is warmed (no thread is started after a fork).
#pragma once

#include <cstddef>

namespace vhs {

enum class WarmFor { Reading, Writing };

// Queues [at, at + length) for populating; a no-op for an empty range. Best effort: a kernel
// without the populate advice, or a range that cannot be populated (a file cut under its mapping
// returns EFAULT; nothing is signalled), is left for the owner's own page faults.
void warm_pages(const void* at, size_t length, WarmFor use);

// Drops queued ranges that overlap [at, at + length) and waits until a populate running on one
// of them has returned. Call before unmapping the memory.
void forget_warm_pages(const void* at, size_t length);

}  // namespace vhs
