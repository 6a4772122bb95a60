// describe_fields (dotted field tree with byte offsets into the whole message) and
// summarize_payload (one-line key fields) on hand-written spec-layout messages.
#include <gtest/gtest.h>

#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "decoders/vhost_user/field_format.hpp"
#include "decoders/vhost_user/message.hpp"

namespace vhs {
namespace {

using Bytes = std::vector<uint8_t>;

void put(Bytes& b, uint64_t x, int n) {
  for (int i = 0; i < n; ++i) b.push_back(static_cast<uint8_t>(x >> (8 * i)));
}
Bytes u32(uint32_t x) {
  Bytes b;
  put(b, x, 4);
  return b;
}
Bytes u64(uint64_t x) {
  Bytes b;
  put(b, x, 8);
  return b;
}
Bytes cat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const Bytes& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}
Bytes msg(uint32_t request, uint32_t flags, const Bytes& payload) {
  Bytes b;
  put(b, request, 4);
  put(b, flags, 4);
  put(b, payload.size(), 4);
  b.insert(b.end(), payload.begin(), payload.end());
  return b;
}

struct Described {
  DecodedMessage m;
  std::vector<Field> fields;
  const Field* find(const std::string& path) const {
    for (const Field& f : fields)
      if (f.path == path) return &f;
    return nullptr;
  }
};

Described describe(Channel c, const Bytes& b, const std::vector<FdInfo>& fds = {},
                   const DecodeContext& ctx = {}) {
  Described d{decode_message(c, b, fds, ctx), {}};
  d.fields = describe_fields(d.m, b, fds, ctx);
  return d;
}

#define EXPECT_FIELD(d, path, val, off, len)            \
  do {                                                  \
    const Field* f_ = (d).find(path);                   \
    ASSERT_NE(f_, nullptr) << "missing field " << path; \
    EXPECT_EQ(f_->text, val) << path;                   \
    EXPECT_EQ(f_->offset, off) << path;                 \
    EXPECT_EQ(f_->length, len) << path;                 \
  } while (0)

TEST(DescribeFields, Header) {
  const auto d = describe(Channel::Frontend, msg(1, 0x9, {}));
  EXPECT_FIELD(d, "header", "GET_FEATURES request", 0u, 12u);
  EXPECT_FIELD(d, "header.request", "GET_FEATURES (1)", 0u, 4u);
  EXPECT_FIELD(d, "header.flags", "0x9 (version 1, NEED_REPLY)", 4u, 4u);
  EXPECT_FIELD(d, "header.flags.version", "1", 4u, 1u);
  EXPECT_FIELD(d, "header.flags.reply", "no", 4u, 1u);
  EXPECT_FIELD(d, "header.flags.need_reply", "yes", 4u, 1u);
  EXPECT_FIELD(d, "header.size", "0", 8u, 4u);
  EXPECT_EQ(d.fields.size(), 7u);
  EXPECT_EQ(d.fields[1].depth, 1);
  EXPECT_EQ(d.find("header.flags.need_reply")->depth, 2);
  EXPECT_EQ(d.find("header.request")->value, FieldValue::enumerated(1, "GET_FEATURES"));
  EXPECT_EQ(d.find("header.flags")->value, FieldValue::flags(0x9, "NEED_REPLY"));
  EXPECT_EQ(d.find("header.flags.need_reply")->value, FieldValue::boolean(true));
  EXPECT_EQ(d.find("header.size")->value, FieldValue::unsigned_number(0));
  EXPECT_EQ(d.find("header")->value.kind, ValueKind::None);

  const auto r = describe(Channel::Frontend, msg(1, 0x15, u64(0)));
  EXPECT_FIELD(r, "header.flags", "0x15 (version 1, REPLY, reserved 0x10)", 4u, 4u);
  const auto u = describe(Channel::Backend, msg(99, 0x1, {}));
  EXPECT_FIELD(u, "header.request", "Unknown (99)", 0u, 4u);
  EXPECT_FIELD(u, "header", "UNKNOWN request", 0u, 12u);
}

TEST(DescribeFields, TruncatedHeaderShowsWhatIsThere) {
  const Bytes b = {12, 0, 0, 0, 1, 0};
  const auto d = describe(Channel::Frontend, b);
  EXPECT_FIELD(d, "header", "truncated (6 of 12 bytes)", 0u, 6u);
  EXPECT_FIELD(d, "header.request", "SET_VRING_KICK (12)", 0u, 4u);
  EXPECT_EQ(d.find("header.flags"), nullptr);
}

TEST(DescribeFields, VringAddrOffsetsAreIntoTheWholeMessage) {
  const auto d =
      describe(Channel::Frontend, msg(9, 0x1,
                                      cat({u32(1), u32(1), u64(0x7f1000000000), u64(0x7f1000002000),
                                           u64(0x7f1000001000), u64(0x12340000)})));
  EXPECT_FIELD(d, "vring.index", "1", 12u, 4u);
  EXPECT_FIELD(d, "vring.flags", "0x1 (LOG)", 16u, 4u);
  EXPECT_FIELD(d, "vring.desc_addr", "0x7f1000000000", 20u, 8u);
  EXPECT_FIELD(d, "vring.used_addr", "0x7f1000002000", 28u, 8u);
  EXPECT_FIELD(d, "vring.avail_addr", "0x7f1000001000", 36u, 8u);
  EXPECT_FIELD(d, "vring.log_addr", "0x12340000", 44u, 8u);
  EXPECT_EQ(summarize_payload(d.m),
            "index=1 desc=0x7f1000000000 used=0x7f1000002000 avail=0x7f1000001000 LOG");
}

TEST(DescribeFields, MemTableRegionsAndFds) {
  const Bytes payload =
      cat({u32(2), u32(0), u64(0), u64(0x80000000), u64(0x7f0000000000), u64(0), u64(0x100000000),
           u64(0x40000000), u64(0x7f0080000000), u64(0x80000000)});
  std::vector<FdInfo> fds(2);
  fds[0] = {FdKind::Memfd, 4242, 0xc0000000, "memfd:pc.ram"};
  fds[1] = {FdKind::File, 7, 0, "/dev/hugepages/x"};
  const auto d = describe(Channel::Frontend, msg(5, 0x9, payload), fds);
  EXPECT_FIELD(d, "mem.nregions", "2", 12u, 4u);
  EXPECT_FIELD(d, "mem.padding", "0x0", 16u, 4u);
  EXPECT_FIELD(d, "region[0].gpa", "0x0", 20u, 8u);
  EXPECT_FIELD(d, "region[0].size", "2147483648 (2.0 GiB)", 28u, 8u);
  EXPECT_FIELD(d, "region[1].gpa", "0x100000000", 52u, 8u);
  EXPECT_FIELD(d, "region[1].uva", "0x7f0080000000", 68u, 8u);
  EXPECT_FIELD(d, "region[1].mmap_offset", "0x80000000", 76u, 8u);
  EXPECT_FIELD(d, "region[1]", "gpa 0x100000000 size 1.0 GiB", 52u, 32u);
  EXPECT_EQ(d.find("region[1].xen_domid"), nullptr);
  EXPECT_FIELD(d, "fd[0]", "memfd inode=4242 size=3221225472 (3.0 GiB) name=memfd:pc.ram", 0u, 0u);
  EXPECT_FIELD(d, "fd[1]", "file inode=7 name=/dev/hugepages/x", 0u, 0u);
  EXPECT_EQ(summarize_payload(d.m), "regions=2 total=3.0 GiB");
}

TEST(DescribeFields, FeaturesHexNamesAndBits) {
  DecodeContext ctx;
  ctx.device = DeviceKind::Blk;
  const uint64_t bits = (1ull << 32) | (1ull << 30) | (1ull << 9) | (1ull << 45);
  const auto d = describe(Channel::Frontend, msg(1, 0x5, u64(bits)), {}, ctx);
  EXPECT_FIELD(d, "features", "0x200140000200 (FLUSH|PROTOCOL_FEATURES|VERSION_1|bit45)", 12u, 8u);
  EXPECT_FIELD(d, "features.bit[32]", "VERSION_1", 16u, 1u);
  EXPECT_FIELD(d, "features.bit[9]", "FLUSH", 13u, 1u);
  EXPECT_FIELD(d, "features.bit[45]", "(unnamed)", 17u, 1u);
  EXPECT_EQ(summarize_payload(d.m, ctx),
            "0x200140000200 (FLUSH|PROTOCOL_FEATURES|VERSION_1|bit45)");
  const uint64_t many = 0x1'7000'6e54;
  EXPECT_EQ(summarize_payload(describe(Channel::Frontend, msg(1, 0x5, u64(many))).m, ctx),
            "0x170006e54 (SEG_MAX|GEOMETRY|BLK_SIZE|FLUSH|+8)");
  const auto p = describe(Channel::Frontend, msg(16, 0x1, u64(0x9)));
  EXPECT_FIELD(p, "protocol_features", "0x9 (MQ|REPLY_ACK)", 12u, 8u);
  EXPECT_FIELD(p, "protocol_features.bit[3]", "REPLY_ACK", 12u, 1u);
}

TEST(DescribeFields, UnknownEnumValuesAndIotlb) {
  Bytes payload = cat({u64(0x1000), u64(0x2000), u64(0x7f00)});
  payload.push_back(3);
  payload.push_back(63);
  payload.resize(32, 0);
  const auto d = describe(Channel::Frontend, msg(22, 0x9, payload));
  EXPECT_FIELD(d, "iotlb.perm", "RW (3)", 36u, 1u);
  EXPECT_FIELD(d, "iotlb.type", "Unknown (63)", 37u, 1u);
  EXPECT_FIELD(d, "iotlb.size", "8192 (8.0 KiB)", 20u, 8u);
  EXPECT_EQ(summarize_payload(d.m), "Unknown (63) iova=0x1000 size=8.0 KiB perm=RW");
}

TEST(DescribeFields, KickCallNofd) {
  const auto d = describe(Channel::Frontend, msg(13, 0x1, u64(0x101)));
  EXPECT_FIELD(d, "vring", "0x101 (index 1, NOFD)", 12u, 8u);
  EXPECT_FIELD(d, "vring.index", "1", 12u, 1u);
  EXPECT_FIELD(d, "vring.nofd", "yes", 13u, 1u);
  EXPECT_EQ(summarize_payload(d.m), "index=1 NOFD");
  EXPECT_EQ(summarize_payload(describe(Channel::Frontend, msg(12, 0x1, u64(1)), {FdInfo{}}).m),
            "index=1 fd");
}

TEST(DescribeFields, ConfigAndExtraBytes) {
  Bytes payload = cat({u32(0), u32(60), u32(0)});
  payload.resize(72, 0);
  const auto req = describe(Channel::Frontend, msg(24, 0x1, payload));
  EXPECT_FIELD(req, "config.offset", "0", 12u, 4u);
  EXPECT_FIELD(req, "config.size", "60", 16u, 4u);
  EXPECT_FIELD(req, "config.flags", "FRONTEND (0)", 20u, 4u);
  EXPECT_FIELD(req, "config.data", "60 bytes (ignored in a request)", 24u, 60u);
  EXPECT_EQ(summarize_payload(req.m), "offset=0 size=60");
  const auto rep =
      describe(Channel::Frontend, msg(24, 0x5, cat({u32(0), u32(2), u32(1), Bytes{0xab, 0xcd}})));
  EXPECT_FIELD(rep, "config.data", "ab cd", 24u, 2u);
  EXPECT_FIELD(rep, "config.flags", "MIGRATION (1)", 20u, 4u);
  // SET_VRING_NUM with 12 bytes: the 4 unexplained bytes still get a line.
  const auto extra =
      describe(Channel::Frontend, msg(8, 0x1, cat({u32(0), u32(256), u32(0xdeadbeef)})));
  EXPECT_FIELD(extra, "vring.num", "256", 16u, 4u);
  EXPECT_FIELD(extra, "extra", "ef be ad de", 20u, 4u);
  EXPECT_EQ(summarize_payload(extra.m), "index=0 num=256");
}

TEST(DescribeFields, DeviceConfigFields) {
  DecodeContext blk;
  blk.device = DeviceKind::Blk;
  // GET_CONFIG reply for offset 0, 36 bytes of virtio_blk_config.
  Bytes cfg(36, 0);
  cfg[0] = 0x00;
  cfg[1] = 0x00;
  cfg[2] = 0x20;  // capacity 0x200000 sectors = 1 GiB
  cfg[12] = 126;  // seg_max
  cfg[20] = 0x00;
  cfg[21] = 0x02;  // blk_size 512
  cfg[34] = 4;     // num_queues
  const auto d =
      describe(Channel::Frontend, msg(24, 0x5, cat({u32(0), u32(36), u32(0), cfg})), {}, blk);
  EXPECT_FIELD(d, "config.data.capacity", "2097152 sectors (1.0 GiB)", 24u, 8u);
  EXPECT_FIELD(d, "config.data.seg_max", "126", 36u, 4u);
  EXPECT_FIELD(d, "config.data.blk_size", "512", 44u, 4u);
  EXPECT_FIELD(d, "config.data.num_queues", "4", 58u, 2u);
  EXPECT_EQ(d.find("config.data.max_discard_sectors"), nullptr);  // beyond the 36 bytes carried
  // SET_CONFIG of the write-cache byte alone (offset 32, size 1).
  const auto wce =
      describe(Channel::Frontend, msg(25, 0x1, cat({u32(32), u32(1), u32(0), Bytes{1}})), {}, blk);
  EXPECT_FIELD(wce, "config.data.wce", "1", 24u, 1u);
  EXPECT_EQ(wce.find("config.data.capacity"), nullptr);

  DecodeContext fs;
  fs.device = DeviceKind::Fs;
  Bytes fscfg(40, 0);
  const char tag[] = "myfs";
  std::memcpy(fscfg.data(), tag, 4);
  fscfg[36] = 1;
  const auto f =
      describe(Channel::Frontend, msg(24, 0x5, cat({u32(0), u32(40), u32(0), fscfg})), {}, fs);
  EXPECT_FIELD(f, "config.data.tag", "\"myfs\"", 24u, 36u);
  EXPECT_FIELD(f, "config.data.num_request_queues", "1", 60u, 4u);

  DecodeContext net;
  net.device = DeviceKind::Net;
  Bytes netcfg = {0x52, 0x54, 0, 0x12, 0x34, 0x56, 1, 0, 2, 0, 0xdc, 0x05};
  const auto n =
      describe(Channel::Frontend, msg(24, 0x5, cat({u32(0), u32(12), u32(0), netcfg})), {}, net);
  EXPECT_FIELD(n, "config.data.mac", "52:54:00:12:34:56", 24u, 6u);
  EXPECT_FIELD(n, "config.data.status", "0x1 (LINK_UP)", 30u, 2u);
  EXPECT_FIELD(n, "config.data.mtu", "1500", 34u, 2u);
}

TEST(Summaries, OtherKinds) {
  auto sum = [](Channel c, const Bytes& b, size_t nfds = 0) {
    std::vector<FdInfo> fds(nfds);
    return summarize_payload(decode_message(c, b, fds));
  };
  const Channel F = Channel::Frontend, B = Channel::Backend;
  EXPECT_EQ(sum(F, msg(1, 0x1, {})), "");
  EXPECT_EQ(sum(F, msg(17, 0x5, u64(4))), "value=4");
  EXPECT_EQ(sum(F, msg(5, 0x5, u64(0))), "ack=0");
  EXPECT_EQ(sum(F, msg(5, 0x5, u64(1))), "ack=1 (failure)");
  EXPECT_EQ(sum(F, msg(19, 0x1, Bytes{0x52, 0x54, 0, 0x12, 0x34, 0x56, 0, 0})),
            "mac=52:54:00:12:34:56");
  EXPECT_EQ(sum(F, msg(39, 0x1, u64(0xf))),
            "status=0xf (ACKNOWLEDGE|DRIVER|DRIVER_OK|FEATURES_OK)");
  EXPECT_EQ(sum(F, msg(37, 0x1, cat({u64(0), u64(0x1000), u64(0x100000), u64(0x7f00), u64(0)})), 1),
            "gpa=0x1000 size=1.0 MiB uva=0x7f00");
  EXPECT_EQ(sum(F, msg(6, 0x1, cat({u64(0x20000), u64(0)}))), "size=128.0 KiB offset=0x0");
  EXPECT_EQ(sum(B, msg(3, 0x1, cat({u64(1), u64(4096), u64(0)})), 1),
            "index=1 size=4.0 KiB offset=0x0");
  EXPECT_EQ(sum(B, msg(3, 0x1, cat({u64(0x101), u64(0), u64(0)}))), "index=1 NOFD");
  Bytes infl = cat({u64(0x1040), u64(0)});
  put(infl, 1, 2);
  put(infl, 128, 2);
  put(infl, 0, 4);
  EXPECT_EQ(sum(F, msg(31, 0x5, infl), 1), "queues=1 queue_size=128 mmap_size=4.1 KiB");
  Bytes uuid = {0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 0, 1, 2, 3, 4, 5, 6, 7};
  EXPECT_EQ(sum(F, msg(41, 0x1, uuid)), "uuid=12345678-9abc-def0-0001-020304050607");
  EXPECT_EQ(sum(F, msg(42, 0x1, cat({u32(0), u32(0)})), 1), "direction=SAVE phase=STOPPED");
  EXPECT_EQ(sum(F, msg(42, 0x1, cat({u32(7), u32(3)})), 1),
            "direction=Unknown (7) phase=Unknown (3)");
  EXPECT_EQ(sum(F, msg(42, 0x5, u64(0x100))), "error=0 NOFD");
  EXPECT_EQ(sum(F, msg(26, 0x1, Bytes(100))), "100 bytes");
  EXPECT_EQ(sum(F, msg(44, 0x5, cat({u32(1), u32(0), u64(1ull << 30)}))), "regions=1 [0]=1.0 GiB");
  EXPECT_EQ(sum(B,
                msg(9, 0x9,
                    cat({Bytes{2, 0, 0, 0, 0, 0, 0, 0}, u64(0), u64(0x1000), u64(0x2000), u64(1)})),
                1),
            "shmid=2 shm_offset=0x1000 len=8.0 KiB fd_offset=0x0 flags=0x1");
  EXPECT_EQ(sum(F, Bytes{1, 2}), "");
}

TEST(FieldFormat, Renderers) {
  EXPECT_EQ(human_size(0), "0 B");
  EXPECT_EQ(human_size(1023), "1023 B");
  EXPECT_EQ(human_size(1024), "1.0 KiB");
  EXPECT_EQ(human_size(1536), "1.5 KiB");
  EXPECT_EQ(human_size(1ull << 30), "1.0 GiB");
  EXPECT_EQ(human_size(~0ull), "16.0 EiB");
  EXPECT_EQ(size_text(12), "12");
  EXPECT_EQ(unknown_value(63), "Unknown (63)");
  EXPECT_EQ(named_value("MISS", 1), "MISS (1)");
  EXPECT_EQ(request_text(Channel::Backend, 8), "BACKEND_SHARED_OBJECT_LOOKUP (8)");
  EXPECT_EQ(request_text(Channel::Frontend, 0), "Unknown (0)");
  EXPECT_EQ(header_flags_text(0x1), "0x1 (version 1)");
  EXPECT_EQ(header_flags_text(0x5), "0x5 (version 1, REPLY)");
}

}  // namespace
}  // namespace vhs
