// The one payload layout table (payload_layout.hpp) against the decoders and the field tree:
// every payload kind's slots cover its bytes without gaps or overlaps, the field tree built from
// them covers every payload byte exactly once, the typed payload structs read the same values the
// tree shows, and the field path helpers (public names, earlier names).
#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "decoders/vhost_user/field_paths.hpp"
#include "decoders/vhost_user/message.hpp"
#include "decoders/vhost_user/payload_layout.hpp"
#include "support/message_builder.hpp"

namespace vhs {
namespace {

using test::Bytes;

constexpr PayloadKind kLastKind = PayloadKind::Opaque;

std::vector<PayloadKind> all_kinds() {
  std::vector<PayloadKind> out;
  for (unsigned k = 0; k <= static_cast<unsigned>(kLastKind); ++k)
    out.push_back(static_cast<PayloadKind>(k));
  return out;
}

DecodeContext context(bool xen) {
  DecodeContext ctx;
  if (xen) {
    ctx.protocol_features_known = true;
    ctx.protocol_features = feature_mask(ProtocolFeature::XEN_MMAP);
  }
  return ctx;
}

// Slots listed in offset order, each starting where the previous one ended.
void expect_contiguous(std::span<const PayloadSlot> slots, uint32_t size, const std::string& what) {
  uint32_t at = 0;
  for (const PayloadSlot& s : slots) {
    EXPECT_EQ(s.offset, at) << what << ": " << s.name << " leaves a gap or overlaps";
    EXPECT_GT(s.size, 0u) << what << ": " << s.name;
    const bool word = s.size == 1 || s.size == 2 || s.size == 4 || s.size == 8;
    const bool bytes = s.style == SlotStyle::Padding || s.style == SlotStyle::Uuid;
    EXPECT_TRUE(word || bytes) << what << ": " << s.name << " has size " << int{s.size};
    at = s.end();
  }
  EXPECT_EQ(at, size) << what;
}

TEST(PayloadLayout, SlotsCoverEachKindWithoutGapsOrOverlaps) {
  for (bool xen : {false, true}) {
    for (PayloadKind kind : all_kinds()) {
      const std::string what = fmt::format("{}{}", payload_kind_name(kind), xen ? " (xen)" : "");
      const PayloadLayout l = payload_layout(kind, xen);
      expect_contiguous(l.fixed, l.fixed_size(), what);
      if (kind != PayloadKind::Config)  // config bytes are described by the device, not a slot
        expect_contiguous(l.tail, l.tail_size, what + " tail");
      const PayloadSizeRule rule = payload_size_rule(kind, xen);
      EXPECT_EQ(rule.base, l.tail_repeats ? l.fixed_size() : l.fixed_size() + l.tail_size) << what;
    }
  }
  EXPECT_EQ(kMemRegionSize, 32u);
  EXPECT_EQ(kXenMemRegionSize, 40u);
  EXPECT_EQ(payload_size_rule(PayloadKind::VringAddr).base, 40u);
  EXPECT_EQ(payload_size_rule(PayloadKind::Iotlb).base, 32u);
}

// A message of `kind` whose payload has exactly the layout's size (two parts when they repeat).
struct Sample {
  Channel channel = Channel::Frontend;
  Bytes bytes;
};
std::optional<Sample> sample(PayloadKind kind, bool xen) {
  const PayloadSizeRule rule = payload_size_rule(kind, xen);
  const uint32_t size = rule.any_size ? 5 : rule.base + 2 * rule.element;
  Bytes payload(size);
  for (size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<uint8_t>(i + 1);
  for (const RequestInfo& r : all_requests()) {
    if (r.payload == kind) return Sample{r.channel, test::message(r.number, 0x1, payload)};
    if (r.reply_payload == kind) return Sample{r.channel, test::message(r.number, 0x5, payload)};
  }
  return std::nullopt;
}

// The lines that explain payload bytes: top-level payload lines and the children of group lines
// (a region's slots), not the bit children of a word or the device fields inside config.data.
std::vector<const Field*> covering(const std::vector<Field>& fields) {
  std::vector<const Field*> out;
  std::vector<const Field*> parents;  // by depth
  for (const Field& f : fields) {
    parents.resize(f.depth);
    const bool payload = f.offset >= kHeaderSize && !f.path.starts_with("fd[");
    const bool under_group = f.depth == 0 || parents.back()->value.kind == ValueKind::None;
    const bool group_with_children = f.value.kind == ValueKind::None && f.depth == 0 &&
                                     &f + 1 < fields.data() + fields.size() && (&f + 1)->depth > 0;
    if (payload && under_group && !group_with_children) out.push_back(&f);
    parents.push_back(&f);
  }
  return out;
}

TEST(PayloadLayout, FieldTreeCoversEveryPayloadByteOnce) {
  for (bool xen : {false, true}) {
    for (PayloadKind kind : all_kinds()) {
      if (kind == PayloadKind::None) continue;
      const std::string what = fmt::format("{}{}", payload_kind_name(kind), xen ? " (xen)" : "");
      const auto s = sample(kind, xen);
      ASSERT_TRUE(s.has_value()) << what << ": no request uses it";
      const DecodeContext ctx = context(xen);
      const DecodedMessage m = decode_message(s->channel, s->bytes, {}, ctx);
      ASSERT_EQ(m.payload_kind, kind) << what;
      const std::vector<Field> fields = describe_fields(m, s->bytes, {}, ctx);
      std::vector<const Field*> lines = covering(fields);
      std::sort(lines.begin(), lines.end(),
                [](const Field* a, const Field* b) { return a->offset < b->offset; });
      uint32_t at = kHeaderSize;
      for (const Field* f : lines) {
        EXPECT_NE(f->path, "extra") << what;
        EXPECT_EQ(f->offset, at) << what << ": " << f->path;
        at = f->offset + f->length;
      }
      EXPECT_EQ(at, s->bytes.size()) << what;
    }
  }
}

const Field& field(const std::vector<Field>& fields, std::string_view path) {
  for (const Field& f : fields)
    if (f.path == path) return f;
  static const Field missing{"(missing)", {}, {}, 0, 0, 0};
  ADD_FAILURE() << "no field " << path;
  return missing;
}

TEST(PayloadLayout, DecodedStructsAndFieldTreeReadTheSameBytes) {
  auto tree = [](PayloadKind kind, DecodedMessage& m) {
    const auto s = sample(kind, false);
    m = decode_message(s->channel, s->bytes, {}, {});
    return describe_fields(m, s->bytes, {}, {});
  };
  DecodedMessage m;
  auto f = tree(PayloadKind::VringAddr, m);
  const auto& a = std::get<VringAddrValue>(m.payload);
  EXPECT_EQ(field(f, "vring.index").value, FieldValue::unsigned_number(a.index));
  EXPECT_EQ(field(f, "vring.desc_addr").value, FieldValue::address(a.desc_user_addr));
  EXPECT_EQ(field(f, "vring.used_addr").value, FieldValue::address(a.used_user_addr));
  EXPECT_EQ(field(f, "vring.avail_addr").value, FieldValue::address(a.avail_user_addr));
  EXPECT_EQ(field(f, "vring.log_addr").value, FieldValue::address(a.log_guest_addr));
  EXPECT_EQ(a.used_user_addr, 0x1817161514131211u);

  f = tree(PayloadKind::MemTable, m);
  const auto& t = std::get<MemTableValue>(m.payload);
  EXPECT_EQ(field(f, "mem.nregions").value.number, t.nregions);
  f = tree(PayloadKind::SingleRegion, m);
  const auto& r = std::get<SingleRegionValue>(m.payload).region;
  EXPECT_EQ(field(f, "region.gpa").value, FieldValue::address(r.guest_phys_addr));
  EXPECT_EQ(field(f, "region.size").value, FieldValue::unsigned_number(r.memory_size));
  EXPECT_EQ(field(f, "region.uva").value, FieldValue::address(r.userspace_addr));
  EXPECT_EQ(field(f, "region.mmap_offset").value, FieldValue::address(r.mmap_offset));

  f = tree(PayloadKind::Iotlb, m);
  const auto& io = std::get<IotlbValue>(m.payload);
  EXPECT_EQ(field(f, "iotlb.uaddr").value.number, io.uaddr);
  EXPECT_EQ(field(f, "iotlb.perm").value.number, io.perm);
  EXPECT_EQ(field(f, "iotlb.type").value.number, io.type);

  f = tree(PayloadKind::Inflight, m);
  const auto& in = std::get<InflightValue>(m.payload);
  EXPECT_EQ(field(f, "inflight.num_queues").value.number, in.num_queues);
  EXPECT_EQ(field(f, "inflight.queue_size").value.number, in.queue_size);

  f = tree(PayloadKind::ShmemMap, m);
  const auto& sm = std::get<ShmemMapValue>(m.payload);
  EXPECT_EQ(field(f, "shmem.shmid").value.number, sm.shmid);
  EXPECT_EQ(field(f, "shmem.len").value.number, sm.len);
  EXPECT_EQ(field(f, "shmem.flags").value.number, sm.flags);

  f = tree(PayloadKind::VringArea, m);
  const auto& va = std::get<VringAreaValue>(m.payload);
  EXPECT_EQ(field(f, "vring").value.number, va.u64);
  EXPECT_EQ(field(f, "vring.index").value.number, va.index());
  EXPECT_EQ(field(f, "vring.nofd").value, FieldValue::boolean(va.nofd()));
  EXPECT_EQ(field(f, "vring.area_size").value.number, va.size);
  EXPECT_EQ(field(f, "vring.area_offset").value.number, va.offset);

  f = tree(PayloadKind::ShmemConfig, m);
  const auto& sc = std::get<ShmemConfigValue>(m.payload);
  ASSERT_EQ(sc.sizes.size(), 2u);
  EXPECT_EQ(field(f, "shmem.size[1]").value.number, sc.sizes[1]);
}

TEST(FieldValues, TypesOfTheTree) {
  DecodeContext ctx;
  const Bytes kick = test::request("SET_VRING_KICK", test::vring_index_fd(3, true));
  auto m = decode_message(Channel::Frontend, kick, {}, ctx);
  auto f = describe_fields(m, kick, {}, ctx);
  EXPECT_EQ(field(f, "vring").value, FieldValue::flags(0x103, "NOFD"));
  EXPECT_EQ(field(f, "vring.index").value, FieldValue::unsigned_number(3));
  EXPECT_EQ(field(f, "vring.nofd").value, FieldValue::boolean(true));
  EXPECT_EQ(field(f, "vring.nofd").text, "yes");

  const Bytes features =
      test::reply("GET_FEATURES", test::u64_payload((1ull << 32) | (1ull << 30)));
  m = decode_message(Channel::Frontend, features, {}, ctx);
  f = describe_fields(m, features, {}, ctx);
  EXPECT_EQ(field(f, "features").value.kind, ValueKind::Flags);
  EXPECT_TRUE(field(f, "features").value.has_flag_named("version_1"));
  EXPECT_FALSE(field(f, "features").value.has_flag_named("VERSION"));
  EXPECT_EQ(field(f, "features.bit[32]").value, FieldValue::enumerated(32, "VERSION_1"));

  test::Region region{0x1000, 1u << 20, 0x7f0000000000, 0};
  const Bytes table = test::request("SET_MEM_TABLE", test::mem_table({&region, 1}));
  const std::vector<FdInfo> fds = {FdInfo{FdKind::Memfd, 7, 1u << 20, "memfd:ram"}};
  m = decode_message(Channel::Frontend, table, fds, ctx);
  f = describe_fields(m, table, fds, ctx);
  EXPECT_EQ(field(f, "region[0]").value.kind, ValueKind::None);
  EXPECT_EQ(field(f, "region[0].gpa").value, FieldValue::address(0x1000));
  EXPECT_EQ(field(f, "region[0].gpa").text, "0x1000");
  EXPECT_EQ(field(f, "region[0].size").text, "1048576 (1.0 MiB)");
  EXPECT_EQ(field(f, "mem.padding").value, FieldValue::raw_bytes(Bytes{0, 0, 0, 0}));
  EXPECT_EQ(field(f, "fd[0]").value, FieldValue::enumerated(1, "memfd"));
}

TEST(FieldPaths, PublicNamesDropIndices) {
  EXPECT_EQ(public_field_name("region[1].gpa"), "vhostuser.region.gpa");
  EXPECT_EQ(public_field_name("features.bit[32]"), "vhostuser.features.bit");
  EXPECT_EQ(public_field_name("header.flags.need_reply"), "vhostuser.header.flags.need_reply");
}

TEST(FieldPaths, EarlierNamesMapToCurrentOnes) {
  EXPECT_EQ(current_field_path("vring_state.num"), "vring.num");
  EXPECT_EQ(current_field_path("vring_addr.desc_user_addr"), "vring.desc_addr");
  EXPECT_EQ(current_field_path("mem_table.region[2].guest_phys_addr"), "region[2].gpa");
  EXPECT_EQ(current_field_path("single_region.region.userspace_addr"), "region.uva");
  EXPECT_EQ(current_field_path("vring_index_fd.nofd"), "vring.nofd");
  EXPECT_EQ(current_field_path("vring_area.size"), "vring.area_size");
  EXPECT_EQ(current_field_path("memory_size"), "region.size");
  EXPECT_EQ(current_field_path("desc_user_addr"), "vring.desc_addr");
  EXPECT_EQ(current_field_path("region.memory_size"), "region.size");
  EXPECT_EQ(current_field_path("shmem_map.len"), "shmem.len");
  EXPECT_EQ(current_field_path("vring.num"), "vring.num");
  EXPECT_EQ(current_field_path("vring_statex.num"), "vring_statex.num");  // not a component
}

}  // namespace
}  // namespace vhs
