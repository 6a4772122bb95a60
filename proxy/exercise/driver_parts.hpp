// What the split and the packed ring drivers (split_driver, packed_driver) do alike, whatever the
// layout: their kick and call eventfds, waiting for a call in slices, reading back what the device
// wrote into a chain's buffers, and ring state samples for the capture with their pacing.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "decoders/vhost_user/features.hpp"
#include "decoders/virtio/ring_snapshot.hpp"
#include "proxy/exercise/guest_ram.hpp"
#include "proxy/exercise/ring_driver.hpp"
#include "proxy/unique_fd.hpp"

namespace vhs::exercise {

// Ring states go to the capture after completions at most this often, and while a ring makes no
// progress this often (ring health reads stalls from those samples).
inline constexpr auto kSampleInterval = std::chrono::milliseconds(50);
inline constexpr auto kStallSampleInterval = std::chrono::milliseconds(500);

// Ring memory is shared with the device: index and flag words are loaded with acquire and stored
// with release ordering; other fields are plain little-endian stores (x86_64, as VERSION_1 rings).
template <class T>
void store_le(uint8_t* p, T v) {
  std::memcpy(p, &v, sizeof v);
}
inline uint16_t load_shared_u16(const uint8_t* p) {
  return __atomic_load_n(reinterpret_cast<const uint16_t*>(p), __ATOMIC_ACQUIRE);
}
inline void store_shared_u16(uint8_t* p, uint16_t v) {
  __atomic_store_n(reinterpret_cast<uint16_t*>(p), v, __ATOMIC_RELEASE);
}

// New non-blocking kick and call eventfds for a queue, named in its setup.
bool make_queue_notifiers(UniqueFd& kick, UniqueFd& call, QueueSetup& setup, std::string& error);

// Waits for the call eventfd at most `left` and at most 100 ms (a device that suppresses or loses
// a call is still seen through the ring, which the caller reads again), and clears it.
void await_call(int call_fd, std::chrono::milliseconds left);

// Each device-writable buffer of a completed chain, whole, as it is now in guest memory.
std::vector<std::vector<uint8_t>> read_written(const GuestRam& ram, std::span<const uint64_t> gpas,
                                               std::span<const uint32_t> sizes);

// The ring state of `queue` as the proxy would sample it.
RingSnapshot queue_snapshot(const GuestRam& ram, unsigned queue, const QueueSetup& setup,
                            uint64_t features, DeviceKind device,
                            std::optional<uint32_t> vring_base);

// True (and `last` moved to now) when `interval` has passed since `last`.
inline bool sample_due(std::chrono::steady_clock::time_point& last,
                       std::chrono::steady_clock::time_point now,
                       std::chrono::milliseconds interval) {
  if (now - last < interval) return false;
  last = now;
  return true;
}

}  // namespace vhs::exercise
