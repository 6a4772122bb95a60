// Fuzz target 4: the RingState record decoder and the Notify record decoder. Input: one record
// payload (the bytes after the pseudo-header), given to both decoders.
// Properties: whatever decodes re-encodes to a payload that decodes to the same value; a failed
// decode says why.
#include <cstdint>
#include <span>
#include <string>

#include "decoders/virtio/notify_record.hpp"
#include "decoders/virtio/ring_snapshot.hpp"
#include "tests/fuzz/fuzz_check.hpp"

namespace {

using namespace vhs;

void ring_state(std::span<const uint8_t> bytes) {
  std::string error;
  const auto s = decode_ring_snapshot(bytes, &error);
  if (!s) {
    VHS_FUZZ_CHECK(!error.empty());
    return;
  }
  fuzz::consume(describe_ring_snapshot(*s));
  const auto back = decode_ring_snapshot(encode_ring_snapshot(*s), &error);
  VHS_FUZZ_CHECK(back.has_value());
  VHS_FUZZ_CHECK(*back == *s);
}

void notify(std::span<const uint8_t> bytes) {
  std::string error;
  const auto n = decode_notify(bytes, &error);
  if (!n) {
    VHS_FUZZ_CHECK(!error.empty());
    return;
  }
  fuzz::consume(describe_notify(*n));
  fuzz::consume(notify_source_name(n->source));
  fuzz::consume(notify_event_name(n->event));
  const auto back = decode_notify(encode_notify(*n), &error);
  VHS_FUZZ_CHECK(back.has_value());
  VHS_FUZZ_CHECK(*back == *n);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ring_state({data, size});
  notify({data, size});
  return 0;
}
