// Sequence alignment for capture diffs: the shortest edit script between two key sequences
// (Myers' O((N+M)D) algorithm in linear space), as a list of equal / delete / insert steps.
// Pure and generic: callers turn messages into keys (channel, direction, request, role).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace vhs {

struct AlignStep {
  enum class Kind : uint8_t { Equal, Delete, Insert };
  Kind kind = Kind::Equal;
  uint32_t a = 0;  // index into the first sequence (Equal, Delete)
  uint32_t b = 0;  // index into the second sequence (Equal, Insert)
};

// Steps in order of both sequences; within one changed stretch deletions come before
// insertions (as in a unified diff). The Equal steps form a longest common subsequence.
std::vector<AlignStep> align_sequences(std::span<const uint64_t> a, std::span<const uint64_t> b);

}  // namespace vhs
