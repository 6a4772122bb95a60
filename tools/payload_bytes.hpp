// Little-endian payload builders shared by the capture generators in tools/ (the tests have
// their own in tests/support/message_builder, which tools do not link).
#pragma once

#include <cstdint>
#include <vector>

namespace vhs::tools {

using Bytes = std::vector<uint8_t>;

inline void put32(Bytes& b, uint32_t v) {
  for (int i = 0; i < 4; ++i) b.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
inline void put64(Bytes& b, uint64_t v) {
  for (int i = 0; i < 8; ++i) b.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
inline Bytes u64(uint64_t v) {
  Bytes b;
  put64(b, v);
  return b;
}
// spec "Message Specification": a vring state is index u32, num u32.
inline Bytes vring_state(uint32_t index, uint32_t num) {
  Bytes b;
  put32(b, index);
  put32(b, num);
  return b;
}

}  // namespace vhs::tools
