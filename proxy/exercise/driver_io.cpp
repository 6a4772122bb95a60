#include "proxy/exercise/driver_io.hpp"

#include <algorithm>
#include <unordered_map>

namespace vhs::exercise {

Outcome<std::vector<ChainCompletion>> DriverIo::transact(unsigned queue,
                                                         std::span<const ChainRequest> chains,
                                                         std::chrono::milliseconds timeout) {
  auto tokens = post(queue, chains);
  if (!tokens) return Outcome<std::vector<ChainCompletion>>::fail(std::move(tokens.error));
  auto used = wait_used(queue, chains.size(), timeout);
  if (!used) return used;
  // A device may complete chains out of order (VIRTIO "The Virtqueue Used Ring"): give them
  // back in the order they were asked for.
  std::unordered_map<uint64_t, size_t> position;
  for (size_t i = 0; i < tokens.value->size(); ++i) position[(*tokens.value)[i]] = i;
  std::vector<ChainCompletion> ordered(chains.size());
  for (auto& c : *used.value) {
    auto it = position.find(c.token);
    if (it == position.end())
      return Outcome<std::vector<ChainCompletion>>::fail(
          "queue " + std::to_string(queue) + ": a completion for a chain posted earlier");
    ordered[it->second] = std::move(c);
  }
  return Outcome<std::vector<ChainCompletion>>::ok(std::move(ordered));
}

}  // namespace vhs::exercise
