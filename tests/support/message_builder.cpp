// Test message construction (see message_builder.hpp).
#include "support/message_builder.hpp"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace vhs::test {

namespace {

void put(Bytes& b, const void* p, size_t n) {
  auto* c = static_cast<const uint8_t*>(p);
  b.insert(b.end(), c, c + n);
}
void put32(Bytes& b, uint32_t v) { put(b, &v, 4); }
void put64(Bytes& b, uint64_t v) { put(b, &v, 8); }

}  // namespace

const RequestInfo& request_info(std::string_view name) {
  const RequestInfo* info = find_request_by_name(name);
  if (info == nullptr) {
    std::fprintf(stderr, "test support: the registry has no request named '%.*s'\n",
                 int(name.size()), name.data());
    std::abort();
  }
  return *info;
}

uint32_t request_number(std::string_view name) { return request_info(name).number; }

Bytes header_bytes(uint32_t request, uint32_t flags, uint32_t size) {
  Bytes b;
  put32(b, request);
  put32(b, flags);
  put32(b, size);
  return b;
}

void append(Bytes& to, std::span<const uint8_t> more) {
  to.insert(to.end(), more.begin(), more.end());
}

Bytes message(uint32_t request, uint32_t flags, std::span<const uint8_t> payload) {
  Bytes b = header_bytes(request, flags, static_cast<uint32_t>(payload.size()));
  append(b, payload);
  return b;
}

Bytes request(std::string_view name, std::span<const uint8_t> payload, bool need_reply) {
  return message(request_number(name), kProtocolVersion | (need_reply ? kFlagNeedReply : 0),
                 payload);
}

Bytes reply(std::string_view name, std::span<const uint8_t> payload) {
  return message(request_number(name), kProtocolVersion | kFlagReply, payload);
}

Bytes u64_payload(uint64_t value) {
  Bytes b;
  put64(b, value);
  return b;
}

Bytes vring_state(uint32_t index, uint32_t num) {
  Bytes b;
  put32(b, index);
  put32(b, num);
  return b;
}

Bytes vring_addr(uint32_t index, uint32_t flags, uint64_t desc, uint64_t used, uint64_t avail,
                 uint64_t log) {
  Bytes b;
  put32(b, index);
  put32(b, flags);
  put64(b, desc);
  put64(b, used);
  put64(b, avail);
  put64(b, log);
  return b;
}

Bytes vring_index_fd(uint8_t index, bool nofd) {
  return u64_payload(uint64_t{index} | (nofd ? 0x100u : 0u));
}

Bytes mem_table(std::span<const Region> regions) {
  Bytes b;
  put32(b, static_cast<uint32_t>(regions.size()));
  put32(b, 0);
  for (const Region& r : regions) {
    put64(b, r.guest_phys_addr);
    put64(b, r.memory_size);
    put64(b, r.userspace_addr);
    put64(b, r.mmap_offset);
  }
  return b;
}

}  // namespace vhs::test
