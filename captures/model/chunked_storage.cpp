// Chunk memory for the store's per-record tables (see chunked_storage.hpp).
#include "captures/model/chunked_storage.hpp"

#include <sys/mman.h>

#include <new>

#include "captures/format/page_warmer.hpp"

namespace vhs {
namespace {

constexpr size_t kHugePage = size_t{2} << 20;
constexpr size_t kPage = size_t{4} << 10;

size_t round_up(size_t n, size_t to) { return (n + to - 1) / to * to; }

}  // namespace

void* allocate_chunk_memory(size_t bytes) {
  if (bytes < kHugePage) return ::operator new(bytes);
  // Over-map by one huge page, keep the aligned part: THP backs only aligned 2 MiB ranges.
  const size_t length = round_up(bytes, kPage);
  void* raw = ::mmap(nullptr, length + kHugePage, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) throw std::bad_alloc();
  auto* base = static_cast<char*>(raw);
  auto* aligned = reinterpret_cast<char*>(round_up(reinterpret_cast<uintptr_t>(base), kHugePage));
  if (aligned > base) ::munmap(base, static_cast<size_t>(aligned - base));
  char* end = base + length + kHugePage;
  if (end > aligned + length) ::munmap(aligned + length, static_cast<size_t>(end - aligned - length));
  // Best effort: without THP (or with it disabled) the pages are ordinary ones.
  ::madvise(aligned, length, MADV_HUGEPAGE);
  return aligned;
}

void free_chunk_memory(void* memory, size_t bytes) noexcept {
  if (!memory) return;
  if (bytes < kHugePage) return ::operator delete(memory);
  forget_warm_pages(memory, round_up(bytes, kPage));
  ::munmap(memory, round_up(bytes, kPage));
}

void warm_chunk_memory(void* memory, size_t bytes) {
  if (memory == nullptr || bytes < kHugePage) return;
  warm_pages(memory, round_up(bytes, kPage), WarmFor::Writing);
}

}  // namespace vhs
