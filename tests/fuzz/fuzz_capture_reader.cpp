// Fuzz target 1: the capture reader, the per-packet pseudo-header and the fd descriptions.
// Input: a whole capture file, read through CaptureReader as `vhostscope dump` reads it; an input
// that starts with the pseudo-header magic "VHSR" is instead one packet for decode_packet, which
// reaches the pseudo-header checks without a pcap frame around them.
// Property: every record read back re-encodes to a packet that decodes to the same record.
#include <algorithm>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "app/common/text_format.hpp"
#include "captures/format/capture_file.hpp"
#include "captures/format/pseudo_header.hpp"
#include "tests/fuzz/fuzz_check.hpp"
#include "tests/fuzz/memory_file.hpp"

namespace {

using namespace vhs;

bool same_record(const Record& a, const Record& b) {
  return a.kind == b.kind && a.direction == b.direction && a.channel == b.channel &&
         a.flags == b.flags && a.session == b.session && a.fds == b.fds && a.bytes == b.bytes;
}

// What dump, the GUI and Wireshark show of a record without decoding its message.
void show_record(const Record& r) {
  fuzz::consume(record_kind_name(r.kind));
  fuzz::consume(format_fds(r.fds));
  for (const FdInfo& fd : r.fds) {
    fuzz::consume(format_fd(fd));
    fuzz::consume(format_fd_long(fd));
    fuzz::consume(fd_kind_name(fd.kind));
  }
  if (r.kind != RecordKind::Message) fuzz::consume(quote_text(r.text()));
}

void check_round_trip(const Record& r) {
  std::vector<uint8_t> packet;
  encode_packet(r, packet);
  Record back;
  std::string why;
  VHS_FUZZ_CHECK(decode_packet(packet, false, back, why) == PacketStatus::Ok);
  VHS_FUZZ_CHECK(same_record(r, back));
}

void read_packet(std::span<const uint8_t> bytes) {
  for (const bool captured_short : {false, true}) {
    Record r;
    std::string why;
    if (decode_packet(bytes, captured_short, r, why) != PacketStatus::Ok) continue;
    show_record(r);
    check_round_trip(r);
  }
}

void read_capture(std::span<const uint8_t> bytes) {
  std::string error;
  auto reader = CaptureReader::open(fuzz::write_memory_file(bytes), error);
  if (!reader) {
    VHS_FUZZ_CHECK(!error.empty());
    return;
  }
  Record r;
  uint64_t records = 0;
  while (reader->next(r)) {
    ++records;
    show_record(r);
    check_round_trip(r);
  }
  VHS_FUZZ_CHECK(reader->records_read() == records);
  VHS_FUZZ_CHECK(!reader->next(r));  // the end stays the end
  fuzz::consume(reader->warning());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> bytes(data, size);
  if (size >= 4 && std::equal(kPseudoHeaderMagic, kPseudoHeaderMagic + 4, data))
    read_packet(bytes);
  else
    read_capture(bytes);
  return 0;
}
