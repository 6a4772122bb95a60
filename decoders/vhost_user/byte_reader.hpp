// Bounds-checked little reader over wire bytes: every wire access in decoders/ goes through it,
// copying with memcpy so unaligned or short input can never cause undefined behaviour.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <type_traits>

namespace vhs {

class ByteReader {
 public:
  explicit ByteReader(std::span<const uint8_t> bytes) : bytes_(bytes) {}

  size_t size() const { return bytes_.size(); }
  bool has(size_t offset, size_t length) const {
    return offset <= bytes_.size() && length <= bytes_.size() - offset;
  }

  // Value at `offset` in host byte order (vhost-user fields are host-native), or 0 when the
  // field does not fit: a short payload decodes its missing fields as zero.
  template <typename T>
  T get(size_t offset) const {
    static_assert(std::is_trivially_copyable_v<T>);
    T value{};
    if (has(offset, sizeof(T))) std::memcpy(&value, bytes_.data() + offset, sizeof(T));
    return value;
  }

  // Copies up to out.size() bytes from `offset`; returns how many were available.
  size_t copy(size_t offset, std::span<uint8_t> out) const {
    if (offset >= bytes_.size()) return 0;
    const size_t n = std::min(out.size(), bytes_.size() - offset);
    if (n) std::memcpy(out.data(), bytes_.data() + offset, n);
    return n;
  }

  std::span<const uint8_t> sub(size_t offset, size_t length) const {
    if (offset >= bytes_.size()) return {};
    return bytes_.subspan(offset, std::min(length, bytes_.size() - offset));
  }

 private:
  std::span<const uint8_t> bytes_;
};

}  // namespace vhs
