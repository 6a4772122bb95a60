// make_fuzz_seeds OUT_DIR SOURCE_DIR: writes the generated seeds of the fuzz targets into
// OUT_DIR/<target>/ (scripts/make-fuzz-corpus.sh calls it and adds the shipped captures).
//   message_decode    every message of the shipped and hostile captures, with a control byte
//   rings             split and packed rings with blk, net and FUSE buffers, direct and indirect
//   records           the RingState encodings of those rings' snapshots, every Notify record
//   capture_reader    single packets (pseudo-header + fd table + record)
//   view_filter       the constructs of the filter help, one alias comparison each
#include <array>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "app/common/view_filter.hpp"
#include "captures/format/capture_file.hpp"
#include "captures/format/pseudo_header.hpp"
#include "decoders/virtio/notify_record.hpp"
#include "decoders/virtio/ring_detail.hpp"
#include "decoders/virtio/ring_snapshot.hpp"
#include "tests/fuzz/ring_input.hpp"

namespace {

using namespace vhs;
using Bytes = std::vector<uint8_t>;
namespace fs = std::filesystem;

void write_seed(const fs::path& dir, const std::string& name, const Bytes& bytes) {
  fs::create_directories(dir);
  std::ofstream out(dir / name, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
}

void put(Bytes& b, size_t at, uint64_t v, size_t width) {
  if (b.size() < at + width) b.resize(at + width);
  for (size_t i = 0; i < width; ++i) b[at + i] = static_cast<uint8_t>(v >> (8 * i));
}

// ---- message_decode: control byte (device, protocol features, fd count) + the message ----

uint8_t control_byte(const std::string& capture, size_t fds) {
  const uint8_t device = capture.find("virtiofs") != std::string::npos ? 3 : 2;  // fs : blk
  const uint8_t features = 2 << 3;  // known, all protocol features
  return static_cast<uint8_t>(device | features | (std::min<size_t>(fds, 7) << 5));
}

void message_seeds(const fs::path& out, const fs::path& source) {
  std::set<Bytes> seen;
  size_t n = 0;
  for (const char* dir : {"captures/samples", "tests/data/hostile"}) {
    for (const auto& file : fs::directory_iterator(source / dir)) {
      if (file.path().extension() != ".pcap") continue;
      std::string error;
      auto reader = CaptureReader::open(file.path().string(), error);
      if (!reader) continue;
      Record r;
      while (reader->next(r)) {
        if (r.kind != RecordKind::Message) continue;
        Bytes seed{control_byte(file.path().filename().string(), r.fds.size())};
        seed.insert(seed.end(), r.bytes.begin(), r.bytes.end());
        if (seen.insert(seed).second) write_seed(out, "msg-" + std::to_string(n++), seed);
      }
    }
  }
}

// ---- rings: one guest page with a ring and the buffers its chains point to ----

constexpr uint64_t kGpa = 0x100000, kUva = 0x7f0000000000, kPage = 0x1000;
constexpr uint16_t kSize = 8;
// Offsets in the page: the ring's three parts, then the buffers.
constexpr uint64_t kDesc = 0x0, kDriver = 0x100, kDevice = 0x200, kIndirect = 0x300;
constexpr uint64_t kHeader = 0x400, kData = 0x500, kStatus = 0x7f0, kFuse = 0x800, kNet = 0x900;

// Buffer contents every device reading can find: a blk READ header, a FUSE LOOKUP header and a
// virtio-net header with GSO.
void fill_buffers(Bytes& page) {
  put(page, kHeader, 0, 4);         // VIRTIO_BLK_T_IN
  put(page, kHeader + 8, 2048, 8);  // sector
  put(page, kStatus, 0, 1);         // VIRTIO_BLK_S_OK
  put(page, kFuse, 45, 4);          // fuse_in_header.len
  put(page, kFuse + 4, 1, 4);       // FUSE_LOOKUP
  put(page, kFuse + 8, 9, 8);       // unique
  put(page, kFuse + 16, 1, 8);      // nodeid
  put(page, kNet, 1, 1);            // NEEDS_CSUM
  put(page, kNet + 1, 1, 1);        // GSO_TCPV4
  put(page, kNet + 4, 1448, 2);     // gso_size
}

struct Desc {
  uint64_t offset;  // in the page
  uint32_t len;
  uint16_t flags;
  uint16_t next_or_id;
};

void put_desc(Bytes& page, uint64_t at, const Desc& d, bool packed) {
  put(page, at, kGpa + d.offset, 8);
  put(page, at + 8, d.len, 4);
  if (packed) {
    put(page, at + 12, d.next_or_id, 2);
    put(page, at + 14, d.flags, 2);
  } else {
    put(page, at + 12, d.flags, 2);
    put(page, at + 14, d.next_or_id, 2);
  }
}

Bytes ring_seed(const Bytes& page, bool packed, bool event_idx, uint8_t queue,
                std::optional<uint32_t> base) {
  fuzz::RingInput in;
  in.packed = packed;
  in.event_idx = event_idx;
  in.queue = queue;
  in.num = kSize;
  in.vring_base = base;
  in.addr.desc_user_addr = kUva + kDesc;
  in.addr.avail_user_addr = kUva + kDriver;
  in.addr.used_user_addr = kUva + kDevice;
  fuzz::RingInputRegion region;
  region.region.guest_phys_addr = kGpa;
  region.region.memory_size = kPage;
  region.region.userspace_addr = kUva;
  region.backing_length = static_cast<uint32_t>(page.size());
  in.regions.push_back(region);
  return fuzz::encode_ring_input(in, page);
}

// Split: heads 0 (blk: header, data, status), 3 (FUSE in, out) and 6 (indirect: net header,
// packet) published; head 0 already used.
Bytes split_page(bool event_idx) {
  Bytes page(kPage);
  fill_buffers(page);
  const uint16_t next = kDescNext, write = kDescWrite;
  put_desc(page, kDesc + 0 * 16, {kHeader, 16, next, 1}, false);
  put_desc(page, kDesc + 1 * 16, {kData, 512, uint16_t(next | write), 2}, false);
  put_desc(page, kDesc + 2 * 16, {kStatus, 1, write, 0}, false);
  put_desc(page, kDesc + 3 * 16, {kFuse, 40, next, 4}, false);
  put_desc(page, kDesc + 4 * 16, {kFuse + 0x80, 16, write, 0}, false);
  put_desc(page, kDesc + 6 * 16, {kIndirect, 32, kDescIndirect, 0}, false);
  put_desc(page, kIndirect, {kNet, 12, next, 1}, false);
  put_desc(page, kIndirect + 16, {kNet + 0x10, 1500, 0, 0}, false);
  put(page, kDriver + 2, 3, 2);  // avail.idx
  put(page, kDriver + 4, 0, 2);
  put(page, kDriver + 6, 3, 2);
  put(page, kDriver + 8, 6, 2);
  if (event_idx) put(page, kDriver + 4 + 2 * kSize, 1, 2);  // used_event
  put(page, kDevice + 2, 1, 2);                             // used.idx
  put(page, kDevice + 4, 0, 4);                             // used[0].id
  put(page, kDevice + 8, 513, 4);                           // used[0].len
  return page;
}

// Packed, driver wrap counter 1: ids 0 (slots 0-2, blk), 1 (slot 3, FUSE header) and 2 (slot 4,
// indirect net) available.
Bytes packed_page() {
  Bytes page(kPage);
  fill_buffers(page);
  const uint16_t avail = kPackedDescAvail, next = kDescNext, write = kDescWrite;
  put_desc(page, kDesc + 0 * 16, {kHeader, 16, uint16_t(avail | next), 0}, true);
  put_desc(page, kDesc + 1 * 16, {kData, 512, uint16_t(avail | next | write), 0}, true);
  put_desc(page, kDesc + 2 * 16, {kStatus, 1, uint16_t(avail | write), 0}, true);
  put_desc(page, kDesc + 3 * 16, {kFuse, 40, avail, 1}, true);
  put_desc(page, kDesc + 4 * 16, {kIndirect, 32, uint16_t(avail | kDescIndirect), 2}, true);
  put_desc(page, kIndirect, {kNet, 12, 0, 0}, false);
  put_desc(page, kIndirect + 16, {kNet + 0x10, 1500, 0, 0}, false);
  return page;
}

void ring_and_record_seeds(const fs::path& out) {
  struct Seed {
    std::string name;
    Bytes page;
    bool packed, event_idx;
    uint8_t queue;
    std::optional<uint32_t> base;
  };
  const std::vector<Seed> seeds = {
      {"split-blk", split_page(false), false, false, 0, std::nullopt},
      {"split-event-idx-net-tx", split_page(true), false, true, 1, std::nullopt},
      {"split-base-fs", split_page(false), false, false, 1, 1u},
      {"packed", packed_page(), true, false, 0, std::nullopt},
      {"packed-base-event-idx", packed_page(), true, true, 1, 0x8000u},
  };
  const std::array<DeviceKind, 3> devices = {DeviceKind::Blk, DeviceKind::Net, DeviceKind::Fs};
  for (const Seed& s : seeds) {
    const Bytes input = ring_seed(s.page, s.packed, s.event_idx, s.queue, s.base);
    write_seed(out / "rings", s.name, input);
    // The snapshots these rings give, per device kind, as RingState record payloads.
    const fuzz::RingInput in = fuzz::parse_ring_input(input);
    const MemoryMap map(std::vector<MemRegionValue>{in.regions[0].region});
    const RegionMemory mem(map, fuzz::region_backing(in));
    for (const DeviceKind device : devices) {
      RingLocation loc = locate_ring(map, in.queue, in.num, in.addr, in.features(), device);
      loc.vring_base = in.vring_base;
      write_seed(out / "records",
                 "ring-state-" + s.name + "-" + std::string(device_kind_name(device)),
                 encode_ring_snapshot(take_ring_snapshot(mem, loc)));
    }
  }
  for (uint8_t source = 0; source <= 2; ++source) {
    for (uint8_t event = 0; event <= 4; ++event) {
      const NotifyRecord n{static_cast<NotifySource>(source), static_cast<NotifyEvent>(event),
                           static_cast<uint16_t>(source + event), uint64_t{event} + 1};
      write_seed(out / "records", "notify-" + std::to_string(source) + "-" + std::to_string(event),
                 encode_notify(n));
    }
  }
}

// ---- capture_reader: single packets ----

void packet_seeds(const fs::path& out) {
  Record message;
  message.session = 1;
  message.bytes = {2, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0};  // SET_FEATURES... header only
  message.fds = {FdInfo{FdKind::Memfd, 42, 1 << 30, "memfd:pc.ram"},
                 FdInfo{FdKind::Eventfd, 7, 0, "[eventfd]"}};
  Record connect;
  connect.kind = RecordKind::Connect;
  const std::string note = "front-end pid 1234 (qemu-system-x86)";
  connect.bytes.assign(note.begin(), note.end());
  Record notify;
  notify.kind = RecordKind::Notify;
  notify.channel = Channel::Backend;
  notify.bytes = encode_notify(NotifyRecord{NotifySource::Call, NotifyEvent::Held, 1, 3});
  const std::vector<std::pair<std::string, Record>> records = {
      {"packet-message-fds", message}, {"packet-connect", connect}, {"packet-notify", notify}};
  for (const auto& [name, r] : records) {
    Bytes packet;
    encode_packet(r, packet);
    write_seed(out / "capture_reader", name, packet);
  }
}

// ---- view_filter: what the help shows, and each alias compared ----

void filter_seeds(const fs::path& out) {
  const std::vector<std::string> filters = {
      "SET_VRING_ADDR",
      "set_vring_*",
      "fe>be",
      "be>fe and ch:be",
      "to:backend or to:frontend",
      "request and not reply",
      "ack",
      "unanswered",
      "finding",
      "finding:size-mismatch",
      "finding:ring-*",
      "error or warning or info",
      "cat:vring",
      "cat:memory",
      "connect",
      "disconnect",
      "kind:error",
      "vring.index == 1 and num >= 256",
      "vring.desc_addr > 0x7f0000000000",
      "header.request == SET_VRING_NUM",
      "iotlb.type == UPDATE",
      "header.flags.need_reply == yes",
      "fd ~ memfd",
      "latency > 5ms",
      "size >= 4K",
      "time < 2s",
      "session:2",
      "features ~ VERSION_1",
      "flags ~ 0x8",
      "!(GET_* || SET_*) && ch:fe",
      "region[0].size == 0x40000000",
      "name ~ \"pc.ram\"",
      "log.size != 0",
      "not not (error)",
  };
  size_t n = 0;
  for (const std::string& f : filters)
    write_seed(out / "view_filter", "filter-" + std::to_string(n++), Bytes(f.begin(), f.end()));
  for (const view::FilterAlias& a : view::filter_aliases()) {
    const std::string f = std::string(a.name.substr(0, a.name.find('|'))) + " >= 1";
    write_seed(out / "view_filter", "filter-" + std::to_string(n++), Bytes(f.begin(), f.end()));
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: make_fuzz_seeds OUT_DIR SOURCE_DIR\n");
    return 2;
  }
  const fs::path out = argv[1], source = argv[2];
  message_seeds(out / "message_decode", source);
  ring_and_record_seeds(out);
  packet_seeds(out);
  filter_seeds(out);
  return 0;
}
