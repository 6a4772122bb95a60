// Builds vhost-user messages for tests. Request numbers come from the registry by spec name, so
// tests never carry their own number table.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "decoders/vhost_user/registry.hpp"
#include "decoders/vhost_user/wire.hpp"

namespace vhs::test {

using Bytes = std::vector<uint8_t>;

// The registry row for `name` (either channel, old SLAVE_* aliases too); aborts the test run with
// a message if the registry does not know it.
const RequestInfo& request_info(std::string_view name);
uint32_t request_number(std::string_view name);

Bytes message(uint32_t request, uint32_t flags, std::span<const uint8_t> payload = {});
// flags 0x1 (0x9 with need_reply)
Bytes request(std::string_view name, std::span<const uint8_t> payload = {},
              bool need_reply = false);
// flags 0x5
Bytes reply(std::string_view name, std::span<const uint8_t> payload = {});

// Payload encoders (native endian, spec section 4 layouts).
Bytes u64_payload(uint64_t value);
Bytes vring_state(uint32_t index, uint32_t num);
Bytes vring_addr(uint32_t index, uint32_t flags, uint64_t desc, uint64_t used, uint64_t avail,
                 uint64_t log);
Bytes vring_index_fd(uint8_t index, bool nofd = false);

struct Region {
  uint64_t guest_phys_addr = 0;
  uint64_t memory_size = 0;
  uint64_t userspace_addr = 0;
  uint64_t mmap_offset = 0;
};
Bytes mem_table(std::span<const Region> regions);

// Little helpers for raw byte tests.
Bytes header_bytes(uint32_t request, uint32_t flags, uint32_t size);
void append(Bytes& to, std::span<const uint8_t> more);

}  // namespace vhs::test
