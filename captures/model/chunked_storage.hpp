// Append-only storage in fixed-size chunks for the store: growing never moves existing elements,
// so references and spans into it stay valid for the store's lifetime, and a million appends cost
// no reallocation copies (and touch each page once).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

namespace vhs {

// Memory for one chunk. From 2 MiB up it is its own mapping, aligned to 2 MiB and marked for
// transparent huge pages: a big capture's index grows by millions of entries, and each 4 KiB page
// first touched is a page fault (microseconds on a virtual machine); a huge page is one fault
// per 2 MiB. Smaller chunks come from operator new. Throws std::bad_alloc like it.
void* allocate_chunk_memory(size_t bytes);
void free_chunk_memory(void* memory, size_t bytes) noexcept;
// Has the pages of a chunk from allocate_chunk_memory faulted in on the page warmer's thread
// (captures/format/page_warmer.hpp); a no-op for chunks below the huge-page size.
void warm_chunk_memory(void* memory, size_t bytes);

template <typename T>
struct ChunkAllocator {
  using value_type = T;
  ChunkAllocator() = default;
  template <typename U>
  ChunkAllocator(const ChunkAllocator<U>&) noexcept {}
  T* allocate(size_t n) { return static_cast<T*>(allocate_chunk_memory(n * sizeof(T))); }
  void deallocate(T* p, size_t n) noexcept { free_chunk_memory(p, n * sizeof(T)); }
  template <typename U>
  bool operator==(const ChunkAllocator<U>&) const noexcept {
    return true;
  }
};

// A vector-like sequence of T stored in chunks of 2^kChunkBits elements.
template <typename T, unsigned kChunkBits = 14>
class ChunkedVector {
 public:
  static constexpr size_t kChunkSize = size_t{1} << kChunkBits;

  T& push_back(T value) {
    const size_t in_chunk = size_ & (kChunkSize - 1);
    if (in_chunk == 0) {
      if (spare_.capacity() == 0) spare_.reserve(kChunkSize);
      chunks_.push_back(std::move(spare_));
      spare_ = {};
    } else if (in_chunk == kChunkSize / 2 && kChunkSize * sizeof(T) >= (size_t{2} << 20)) {
      // Half way through a big chunk the next one is allocated and its pages faulted in on the
      // other core, so the appends that reach it do not stop for the kernel to zero pages.
      spare_.reserve(kChunkSize);
      warm_chunk_memory(spare_.data(), kChunkSize * sizeof(T));
    }
    chunks_.back().push_back(std::move(value));
    ++size_;
    return chunks_.back().back();
  }
  T& operator[](size_t i) { return chunks_[i >> kChunkBits][i & (kChunkSize - 1)]; }
  const T& operator[](size_t i) const { return chunks_[i >> kChunkBits][i & (kChunkSize - 1)]; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  const T& front() const { return chunks_.front().front(); }
  const T& back() const { return chunks_.back().back(); }

 private:
  // Each reserved to kChunkSize: never reallocates.
  std::vector<std::vector<T, ChunkAllocator<T>>> chunks_;
  std::vector<T, ChunkAllocator<T>> spare_;  // the next chunk, allocated ahead (reserved, empty)
  size_t size_ = 0;
};

// Contiguous runs of T (one run per record: its bytes, or its fds) packed into big chunks. A run
// never straddles chunks; a run larger than a chunk gets a chunk of its own.
template <typename T, size_t kChunkElements>
class RunArena {
 public:
  std::span<const T> append(std::span<const T> run) {
    if (run.empty()) return {};
    if (chunks_.empty() || chunks_.back().capacity() - chunks_.back().size() < run.size()) {
      chunks_.emplace_back();
      chunks_.back().reserve(run.size() > kChunkElements ? run.size() : kChunkElements);
    }
    auto& chunk = chunks_.back();
    const size_t at = chunk.size();
    chunk.insert(chunk.end(), run.begin(), run.end());
    return {chunk.data() + at, run.size()};
  }

 private:
  std::vector<std::vector<T>> chunks_;  // inner vectors never grow past their reserve
};

}  // namespace vhs
