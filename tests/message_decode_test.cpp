// decode_message against hand-written byte arrays laid out as in the spec (spec "Message
// Specification"): every payload kind, request vs reply layouts, fd rules, and every per-message
// finding.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "decoders/vhost_user/message.hpp"

namespace vhs {
namespace {

using Bytes = std::vector<uint8_t>;

// Appends `n` little-endian bytes of `x` (vhost-user fields are host-native; x86_64 here).
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

// Header (request u32, flags u32, size u32) + payload; size defaults to the payload length.
Bytes msg(uint32_t request, uint32_t flags, const Bytes& payload,
          std::optional<uint32_t> size = std::nullopt) {
  Bytes b;
  put(b, request, 4);
  put(b, flags, 4);
  put(b, size.value_or(static_cast<uint32_t>(payload.size())), 4);
  b.insert(b.end(), payload.begin(), payload.end());
  return b;
}

std::vector<FdInfo> fds(size_t n, FdKind kind = FdKind::Eventfd) {
  std::vector<FdInfo> v(n);
  for (size_t i = 0; i < n; ++i) {
    v[i].kind = kind;
    v[i].inode = 1000 + i;
  }
  return v;
}

constexpr uint32_t kReq = 0x1, kNeedReply = 0x9, kReply = 0x5;
constexpr Channel F = Channel::Frontend, B = Channel::Backend;

size_t count(const DecodedMessage& m, FindingCode c) {
  return static_cast<size_t>(std::count_if(m.findings.begin(), m.findings.end(),
                                           [c](const Finding& f) { return f.code == c; }));
}
std::string detail(const DecodedMessage& m, FindingCode c) {
  for (const Finding& f : m.findings)
    if (f.code == c) return f.detail;
  return "<none>";
}
std::string all_details(const DecodedMessage& m) {
  std::string s;
  for (const Finding& f : m.findings)
    s += std::string(finding_info(f.code).id) + ": " + f.detail + "\n";
  return s;
}

DecodedMessage decode(Channel c, const Bytes& b, size_t nfds = 0, const DecodeContext& ctx = {}) {
  const auto f = fds(nfds);
  return decode_message(c, b, f, ctx);
}

// ---------------------------------------------------------------- header

TEST(DecodeHeader, PlainRequestWithoutPayload) {
  const Bytes b = {1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0};  // GET_FEATURES, flags 0x1, size 0
  const auto m = decode(F, b);
  EXPECT_TRUE(m.header_complete);
  EXPECT_EQ(m.header.request, 1u);
  EXPECT_EQ(m.header.flags, 1u);
  EXPECT_EQ(m.header.size, 0u);
  ASSERT_NE(m.info, nullptr);
  EXPECT_EQ(m.name(), "GET_FEATURES");
  EXPECT_FALSE(m.is_reply);
  EXPECT_EQ(m.payload_kind, PayloadKind::None);
  EXPECT_TRUE(std::holds_alternative<std::monostate>(m.payload));
  EXPECT_TRUE(m.findings.empty()) << all_details(m);
}

TEST(DecodeHeader, TruncatedHeader) {
  const Bytes b = {1, 0, 0, 0, 1};
  const auto m = decode(F, b);
  EXPECT_FALSE(m.header_complete);
  EXPECT_EQ(m.name(), "UNKNOWN");
  ASSERT_EQ(m.findings.size(), 1u);
  EXPECT_EQ(m.findings[0].code, FindingCode::TruncatedHeader);
  EXPECT_EQ(m.findings[0].detail, "message has 5 bytes, the header needs 12");
  EXPECT_EQ(count(decode(F, {}), FindingCode::TruncatedHeader), 1u);
}

TEST(DecodeHeader, BadVersion) {
  const auto m = decode(F, msg(1, 0x2, {}));
  EXPECT_EQ(count(m, FindingCode::BadVersion), 1u);
  EXPECT_EQ(detail(m, FindingCode::BadVersion), "flags 0x2 carry version 2, expected 1");
  EXPECT_EQ(count(decode(F, msg(1, 0x0, {})), FindingCode::BadVersion), 1u);
}

TEST(DecodeHeader, ReservedFlags) {
  const auto m = decode(F, msg(3, 0x11, {}));
  EXPECT_EQ(count(m, FindingCode::ReservedFlags), 1u);
  EXPECT_EQ(detail(m, FindingCode::ReservedFlags), "flags 0x11 set reserved bits 0x10");
  EXPECT_EQ(count(m, FindingCode::BadVersion), 0u);
  EXPECT_EQ(finding_info(FindingCode::ReservedFlags).severity, Severity::Warning);
}

TEST(DecodeHeader, ReplyFlagsNotExact) {
  const auto m = decode(F, msg(1, 0xd, u64(0)));  // reply with NEED_REPLY still set
  EXPECT_TRUE(m.is_reply);
  EXPECT_EQ(count(m, FindingCode::ReplyFlagsNotExact), 1u);
  EXPECT_EQ(detail(m, FindingCode::ReplyFlagsNotExact),
            "reply flags are 0xd, expected exactly 0x5 (NEED_REPLY set on a reply)");
  EXPECT_EQ(count(decode(F, msg(1, kReply, u64(0))), FindingCode::ReplyFlagsNotExact), 0u);
  EXPECT_EQ(count(decode(F, msg(1, 0x15, u64(0))), FindingCode::ReplyFlagsNotExact), 1u);
}

TEST(DecodeHeader, UnknownRequestOnEachChannel) {
  for (Channel c : {F, B}) {
    const auto m = decode(c, msg(99, kReq, {1, 2, 3}));
    EXPECT_EQ(m.info, nullptr);
    EXPECT_EQ(m.name(), "UNKNOWN");
    EXPECT_EQ(count(m, FindingCode::UnknownRequest), 1u);
    EXPECT_EQ(m.payload_kind, PayloadKind::Opaque);
    ASSERT_TRUE(std::holds_alternative<OpaqueValue>(m.payload));
    EXPECT_EQ(std::get<OpaqueValue>(m.payload).length, 3u);
  }
  EXPECT_EQ(detail(decode(F, msg(99, kReq, {})), FindingCode::UnknownRequest),
            "request 99 is not defined on the front-end channel");
  EXPECT_EQ(detail(decode(B, msg(11, kReq, {})), FindingCode::UnknownRequest),
            "request 11 is not defined on the back-end channel");
  EXPECT_EQ(detail(decode(F, msg(0, kReq, {})), FindingCode::UnknownRequest),
            "request 0 is VHOST_USER_NONE (invalid)");
  // Back-end numbers mean different requests on each channel.
  EXPECT_EQ(decode(B, msg(3, kReq, cat({u64(0x100), u64(0), u64(0)}))).name(),
            "BACKEND_VRING_HOST_NOTIFIER_MSG");
  EXPECT_EQ(decode(F, msg(3, kReq, {})).name(), "SET_OWNER");
  EXPECT_EQ(count(decode(B, msg(44, kReq, {})), FindingCode::UnknownRequest), 1u);
}

TEST(DecodeHeader, TruncatedPayloadDecodesWhatIsThere) {
  // SET_VRING_ADDR declares 40 bytes but only index, flags and desc_user_addr arrived.
  const Bytes payload = cat({u32(2), u32(0), u64(0x7f0000001000)});
  const auto m = decode(F, msg(9, kReq, payload, 40));
  EXPECT_EQ(count(m, FindingCode::TruncatedPayload), 1u);
  EXPECT_EQ(detail(m, FindingCode::TruncatedPayload),
            "header.size is 40 but only 16 payload bytes are present");
  EXPECT_EQ(count(m, FindingCode::PayloadSizeMismatch), 0u);
  ASSERT_TRUE(std::holds_alternative<VringAddrValue>(m.payload));
  const auto& a = std::get<VringAddrValue>(m.payload);
  EXPECT_EQ(a.index, 2u);
  EXPECT_EQ(a.desc_user_addr, 0x7f0000001000u);
  EXPECT_EQ(a.used_user_addr, 0u);
}

TEST(DecodeHeader, TrailingBytesBeyondSize) {
  Bytes b = msg(1, kReq, {});
  b.push_back(0xaa);
  const auto m = decode(F, b);
  EXPECT_EQ(count(m, FindingCode::PayloadSizeMismatch), 1u);
  EXPECT_EQ(detail(m, FindingCode::PayloadSizeMismatch),
            "1 bytes follow the payload: header.size is 0, the message holds 1");
}

TEST(DecodeHeader, OversizedMessage) {
  const auto m = decode(F, msg(5, kReq, cat({u32(1), u32(0)}), 0x100000));
  EXPECT_EQ(count(m, FindingCode::OversizedMessage), 1u);
  EXPECT_EQ(detail(m, FindingCode::OversizedMessage),
            "header.size is 1048576 bytes, no peer accepts more than 4096");
  EXPECT_EQ(count(m, FindingCode::TruncatedPayload), 1u);
  EXPECT_EQ(count(decode(F, msg(5, kReq, {}, 4096)), FindingCode::OversizedMessage), 0u);
  EXPECT_EQ(count(decode(F, msg(5, kReq, {}, 4097)), FindingCode::OversizedMessage), 1u);
  EXPECT_EQ(count(decode(F, msg(5, kReq, {}, 0xffffffff)), FindingCode::OversizedMessage), 1u);
}

TEST(DecodeHeader, PayloadSizeMismatchSaysExpectedAndFound) {
  const auto m = decode(F, msg(8, kReq, u32(256)));  // SET_VRING_NUM with 4 bytes
  EXPECT_EQ(count(m, FindingCode::PayloadSizeMismatch), 1u);
  EXPECT_EQ(detail(m, FindingCode::PayloadSizeMismatch),
            "SET_VRING_NUM request payload (vring-state): expected 8 bytes, found 4");
  const auto g = decode(F, msg(1, kReq, u64(0)));  // GET_FEATURES carries nothing
  EXPECT_EQ(detail(g, FindingCode::PayloadSizeMismatch),
            "GET_FEATURES request payload (none): expected 0 bytes, found 8");
  const auto r = decode(F, msg(1, kReply, u32(0)));  // u64 reply of 4 bytes
  EXPECT_EQ(detail(r, FindingCode::PayloadSizeMismatch),
            "GET_FEATURES reply payload (features): expected 8 bytes, found 4");
}

// SET_LOG_BASE's reply (spec: payload N/A; QEMU reads it without looking): libvhost-user
// answers a u64 0, DPDK an empty payload. Both are well-formed; any other size is not.
TEST(DecodeHeader, SetLogBaseReplyMayBeEmptyOrU64) {
  const auto empty = decode(F, msg(6, kReply, {}));
  EXPECT_EQ(empty.payload_kind, PayloadKind::None);
  EXPECT_TRUE(empty.findings.empty()) << all_details(empty);
  const auto u64_reply = decode(F, msg(6, kReply, u64(0)));
  EXPECT_EQ(u64_reply.payload_kind, PayloadKind::U64);
  EXPECT_TRUE(u64_reply.findings.empty()) << all_details(u64_reply);
  const auto short_reply = decode(F, msg(6, kReply, u32(0)));
  EXPECT_EQ(detail(short_reply, FindingCode::PayloadSizeMismatch),
            "SET_LOG_BASE reply payload (u64): expected 8 bytes, found 4");
  // Only that reply: an empty GET_FEATURES reply is still short.
  EXPECT_EQ(count(decode(F, msg(1, kReply, {})), FindingCode::PayloadSizeMismatch), 1u);
}

// ---------------------------------------------------------------- u64 forms

TEST(DecodePayload, FeaturesRequestAndReply) {
  const uint64_t bits = (1ull << 32) | (1ull << 30) | (1ull << 29);
  const auto reply = decode(F, msg(1, kReply, u64(bits)));
  EXPECT_TRUE(reply.is_reply);
  EXPECT_EQ(reply.payload_kind, PayloadKind::Features);
  EXPECT_EQ(std::get<U64Value>(reply.payload).value, bits);
  EXPECT_TRUE(reply.findings.empty()) << all_details(reply);
  const auto set = decode(F, msg(2, kReq, u64(bits)));
  EXPECT_EQ(set.payload_kind, PayloadKind::Features);
  EXPECT_EQ(std::get<U64Value>(set.payload).value, bits);
  const auto proto = decode(F, msg(15, kReply, u64(0x8)));
  EXPECT_EQ(proto.payload_kind, PayloadKind::ProtocolFeatures);
  EXPECT_EQ(std::get<U64Value>(proto.payload).value, 0x8u);
}

TEST(DecodePayload, AckReplyToAnAckableRequest) {
  const auto m = decode(F, msg(5, kReply, u64(0)));  // SET_MEM_TABLE ack
  EXPECT_EQ(m.payload_kind, PayloadKind::Ack);
  EXPECT_EQ(std::get<U64Value>(m.payload).value, 0u);
  EXPECT_TRUE(m.findings.empty()) << all_details(m);
  const auto lookup = decode(B, msg(8, kReply, u64(0)), 1);  // SHARED_OBJECT_LOOKUP ok + dmabuf
  EXPECT_EQ(lookup.payload_kind, PayloadKind::Ack);
  EXPECT_TRUE(lookup.findings.empty()) << all_details(lookup);
  EXPECT_EQ(count(decode(B, msg(8, kReply, u64(0)), 0), FindingCode::FdCountMismatch), 1u);
  EXPECT_EQ(count(decode(B, msg(8, kReply, u64(1)), 0), FindingCode::FdCountMismatch), 0u);
  EXPECT_EQ(count(decode(B, msg(8, kReply, u64(1)), 1), FindingCode::FdCountMismatch), 1u);
}

TEST(DecodePayload, U64AndStatusAndMac) {
  const auto q = decode(F, msg(17, kReply, u64(4)));  // GET_QUEUE_NUM
  EXPECT_EQ(q.payload_kind, PayloadKind::U64);
  EXPECT_EQ(std::get<U64Value>(q.payload).value, 4u);
  const auto s = decode(F, msg(39, kReq, u64(0x0f)));  // SET_STATUS
  EXPECT_EQ(s.payload_kind, PayloadKind::Status);
  EXPECT_TRUE(s.findings.empty());
  EXPECT_EQ(count(decode(F, msg(39, kReq, u64(0x10f))), FindingCode::InvalidField), 1u);
  const Bytes mac = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0, 0};
  const auto r = decode(F, msg(19, kReq, mac));  // SEND_RARP
  EXPECT_EQ(r.payload_kind, PayloadKind::Mac);
  EXPECT_EQ(std::get<U64Value>(r.payload).value, 0x563412005452u);
}

TEST(DecodePayload, VringIndexFdAndItsFdRule) {
  const auto kick = decode(F, msg(12, kReq, u64(0x1)), 1);
  ASSERT_EQ(kick.payload_kind, PayloadKind::VringIndexFd);
  EXPECT_EQ(std::get<VringIndexFdValue>(kick.payload).index(), 1);
  EXPECT_FALSE(std::get<VringIndexFdValue>(kick.payload).nofd());
  EXPECT_TRUE(kick.findings.empty()) << all_details(kick);
  EXPECT_EQ(kick.fd_count, 1u);

  const auto nofd = decode(F, msg(13, kReq, u64(0x101)), 0);
  EXPECT_TRUE(std::get<VringIndexFdValue>(nofd.payload).nofd());
  EXPECT_TRUE(nofd.findings.empty()) << all_details(nofd);

  const auto extra = decode(F, msg(13, kReq, u64(0x101)), 1);
  EXPECT_EQ(detail(extra, FindingCode::FdCountMismatch),
            "SET_VRING_CALL request carries 1 fd, expected none: NOFD is set");
  const auto missing = decode(F, msg(14, kReq, u64(0x0)), 0);
  EXPECT_EQ(detail(missing, FindingCode::FdCountMismatch),
            "SET_VRING_ERR request carries 0 fds, expected one: NOFD is clear");
  const auto bits = decode(F, msg(12, kReq, u64(0x201)), 1);
  EXPECT_EQ(detail(bits, FindingCode::InvalidField),
            "vring is 0x201: only bits 0-7 (index) and 8 (NOFD) may be set");
}

// ---------------------------------------------------------------- structured payloads

TEST(DecodePayload, VringState) {
  const auto m = decode(F, msg(8, kReq, cat({u32(0), u32(256)})));  // SET_VRING_NUM
  ASSERT_EQ(m.payload_kind, PayloadKind::VringState);
  EXPECT_EQ(std::get<VringStateValue>(m.payload).index, 0u);
  EXPECT_EQ(std::get<VringStateValue>(m.payload).num, 256u);
  EXPECT_TRUE(m.findings.empty());
  const auto base = decode(F, msg(11, kReply, cat({u32(1), u32(0x1234)})));  // GET_VRING_BASE reply
  EXPECT_EQ(base.payload_kind, PayloadKind::VringState);
  EXPECT_EQ(std::get<VringStateValue>(base.payload).num, 0x1234u);
  EXPECT_TRUE(base.findings.empty());
}

TEST(DecodePayload, VringStateFieldChecks) {
  EXPECT_EQ(detail(decode(F, msg(11, kReq, cat({u32(0), u32(5)}))), FindingCode::InvalidField),
            "GET_VRING_BASE num is 5, must be 0");
  EXPECT_EQ(detail(decode(F, msg(18, kReq, cat({u32(0), u32(2)}))), FindingCode::InvalidField),
            "SET_VRING_ENABLE num is 2, expected 0 or 1");
  EXPECT_EQ(count(decode(F, msg(18, kReq, cat({u32(0), u32(1)}))), FindingCode::InvalidField), 0u);
  EXPECT_EQ(count(decode(F, msg(23, kReq, cat({u32(0), u32(3)}))), FindingCode::InvalidField), 1u);
  EXPECT_EQ(detail(decode(F, msg(8, kReq, cat({u32(0), u32(0)}))), FindingCode::InvalidField),
            "SET_VRING_NUM num is 0, expected 1..32768");
  EXPECT_EQ(count(decode(F, msg(8, kReq, cat({u32(0), u32(65536)}))), FindingCode::InvalidField),
            1u);
  EXPECT_EQ(count(decode(F, msg(35, kReq, cat({u32(0), u32(1)}))), FindingCode::InvalidField), 1u);
  EXPECT_EQ(count(decode(B, msg(4, kReq, cat({u32(0), u32(7)}))), FindingCode::InvalidField), 1u);
  EXPECT_EQ(count(decode(B, msg(5, kReq, cat({u32(0), u32(0)}))), FindingCode::InvalidField), 0u);
}

TEST(DecodePayload, VringAddr) {
  const Bytes payload = cat({u32(1), u32(1), u64(0x7f1000000000), u64(0x7f1000002000),
                             u64(0x7f1000001000), u64(0x12340000)});
  const auto m = decode(F, msg(9, kReq, payload));
  ASSERT_EQ(m.payload_kind, PayloadKind::VringAddr);
  const auto& a = std::get<VringAddrValue>(m.payload);
  EXPECT_EQ(a.index, 1u);
  EXPECT_EQ(a.flags, 1u);
  EXPECT_EQ(a.desc_user_addr, 0x7f1000000000u);
  EXPECT_EQ(a.used_user_addr, 0x7f1000002000u);   // offset 16: used before avail
  EXPECT_EQ(a.avail_user_addr, 0x7f1000001000u);  // offset 24
  EXPECT_EQ(a.log_guest_addr, 0x12340000u);
  EXPECT_TRUE(m.findings.empty());
  Bytes bad = payload;
  bad[4] = 0x3;
  EXPECT_EQ(detail(decode(F, msg(9, kReq, bad)), FindingCode::InvalidField),
            "vring.flags is 0x3: only bit 0 (LOG) is defined");
}

Bytes region(uint64_t gpa, uint64_t size, uint64_t uva, uint64_t off) {
  return cat({u64(gpa), u64(size), u64(uva), u64(off)});
}

TEST(DecodePayload, MemTableWithOneFdPerRegion) {
  const Bytes payload = cat({u32(2), u32(0), region(0, 0x80000000, 0x7f0000000000, 0),
                             region(0x100000000, 0x40000000, 0x7f0080000000, 0x80000000)});
  ASSERT_EQ(payload.size(), 8u + 64u);
  const auto m = decode(F, msg(5, kNeedReply, payload), 2);
  ASSERT_EQ(m.payload_kind, PayloadKind::MemTable);
  const auto& t = std::get<MemTableValue>(m.payload);
  EXPECT_EQ(t.nregions, 2u);
  ASSERT_EQ(t.regions.size(), 2u);
  EXPECT_EQ(t.regions[1].guest_phys_addr, 0x100000000u);
  EXPECT_EQ(t.regions[1].memory_size, 0x40000000u);
  EXPECT_EQ(t.regions[1].userspace_addr, 0x7f0080000000u);
  EXPECT_EQ(t.regions[1].mmap_offset, 0x80000000u);
  EXPECT_TRUE(m.findings.empty()) << all_details(m);
  EXPECT_TRUE(m.header.needs_reply());
  EXPECT_EQ(detail(decode(F, msg(5, kReq, payload), 1), FindingCode::FdCountMismatch),
            "SET_MEM_TABLE request carries 1 fd, expected one per region");
}

TEST(DecodePayload, MemTableMalformed) {
  Bytes nine = cat({u32(9), u32(0)});
  for (int i = 0; i < 9; ++i) nine = cat({nine, region(uint64_t(i) << 32, 0x1000, 0x1000, 0)});
  const auto m9 = decode(F, msg(5, kReq, nine), 9);
  EXPECT_EQ(count(m9, FindingCode::InvalidField), 1u);
  EXPECT_EQ(detail(m9, FindingCode::InvalidField), "mem.nregions is 9, at most 8 allowed");
  EXPECT_EQ(std::get<MemTableValue>(m9.payload).regions.size(), 9u);

  // nregions claims 3 but only 1 region follows: decode 1, report the disagreement.
  const auto m3 = decode(F, msg(5, kReq, cat({u32(3), u32(0), region(0, 0x1000, 0x1000, 0)})), 3);
  EXPECT_EQ(detail(m3, FindingCode::InvalidField),
            "mem.nregions is 3 but the payload holds 1 region");
  EXPECT_EQ(std::get<MemTableValue>(m3.payload).regions.size(), 1u);

  // Size that is not 8 + 32*n.
  const auto odd =
      decode(F, msg(5, kReq, cat({u32(1), u32(0), region(0, 0x1000, 0x1000, 0), u32(0)})), 1);
  EXPECT_EQ(detail(odd, FindingCode::PayloadSizeMismatch),
            "SET_MEM_TABLE request payload (mem-table): expected 8 + 32*n bytes, found 44");

  // A region whose end wraps around 2^64 and one of size 0.
  const auto wrap = decode(F,
                           msg(5, kReq,
                               cat({u32(2), u32(0), region(~0ull - 10, 0x1000, 0x1000, 0),
                                    region(0x1000, 0, 0x2000, 0)})),
                           2);
  EXPECT_EQ(count(wrap, FindingCode::InvalidField), 2u) << all_details(wrap);

  // Huge nregions with a tiny payload must not allocate or read past the end.
  const auto huge = decode(F, msg(5, kReq, cat({u32(0xffffffff), u32(0)})), 0);
  EXPECT_TRUE(std::get<MemTableValue>(huge.payload).regions.empty());
  EXPECT_GE(count(huge, FindingCode::InvalidField), 1u);
}

TEST(DecodePayload, PostcopyMemTableExchange) {
  // Back-end's reply in postcopy-listen mode: the same table with its own bases.
  const Bytes table = cat({u32(1), u32(0), region(0, 0x1000, 0x7fff00000000, 0)});
  const auto echo = decode(F, msg(5, kReply, table));
  EXPECT_EQ(echo.payload_kind, PayloadKind::MemTable);
  EXPECT_EQ(std::get<MemTableValue>(echo.payload).regions[0].userspace_addr, 0x7fff00000000u);
  EXPECT_TRUE(echo.findings.empty()) << all_details(echo);
  // The front-end's acknowledgement: SET_MEM_TABLE carrying u64 0, flags 0x1, no fds.
  const auto ack = decode(F, msg(5, kReq, u64(0)), 0);
  EXPECT_EQ(ack.payload_kind, PayloadKind::U64);
  EXPECT_FALSE(ack.is_reply);
  EXPECT_TRUE(ack.findings.empty()) << all_details(ack);
  const auto add_ack = decode(F, msg(37, kReq, u64(0)), 0);
  EXPECT_EQ(add_ack.payload_kind, PayloadKind::U64);
  EXPECT_TRUE(add_ack.findings.empty()) << all_details(add_ack);
  const auto add_echo = decode(F, msg(37, kReply, cat({u64(0), region(0, 0x1000, 0x7fff0000, 0)})));
  EXPECT_EQ(add_echo.payload_kind, PayloadKind::SingleRegion);
}

TEST(DecodePayload, XenMmapRegionsAreFortyBytes) {
  DecodeContext ctx;
  ctx.protocol_features_known = true;
  ctx.protocol_features = feature_mask(ProtocolFeature::XEN_MMAP);
  const Bytes payload =
      cat({u32(1), u32(0), region(0x1000, 0x2000, 0x3000, 0x4000), u32(0x1), u32(7)});
  const auto m = decode(F, msg(5, kReq, payload), 1, ctx);
  EXPECT_TRUE(m.findings.empty()) << all_details(m);
  const auto& r = std::get<MemTableValue>(m.payload).regions.at(0);
  EXPECT_EQ(r.mmap_offset, 0x4000u);
  EXPECT_EQ(r.xen_mmap_flags, 1u);
  EXPECT_EQ(r.xen_domid, 7u);
  // Without XEN_MMAP the same bytes are not 8 + 32*n.
  EXPECT_EQ(count(decode(F, msg(5, kReq, payload), 1), FindingCode::PayloadSizeMismatch), 1u);
}

TEST(DecodePayload, SingleRegionAddAndRemove) {
  const Bytes payload = cat({u64(0), region(0x100000000, 0x40000000, 0x7f0000000000, 0)});
  const auto add = decode(F, msg(37, kNeedReply, payload), 1);
  ASSERT_EQ(add.payload_kind, PayloadKind::SingleRegion);
  EXPECT_EQ(std::get<SingleRegionValue>(add.payload).region.guest_phys_addr, 0x100000000u);
  EXPECT_EQ(std::get<SingleRegionValue>(add.payload).region.memory_size, 0x40000000u);
  EXPECT_TRUE(add.findings.empty()) << all_details(add);
  EXPECT_EQ(count(decode(F, msg(37, kReq, payload), 0), FindingCode::FdCountMismatch), 1u);
  // REM_MEM_REG: spec says 0 fds, but QEMU may send 1 and back-ends must tolerate it.
  EXPECT_TRUE(decode(F, msg(38, kReq, payload), 0).findings.empty());
  EXPECT_TRUE(decode(F, msg(38, kReq, payload), 1).findings.empty());
  EXPECT_EQ(detail(decode(F, msg(38, kReq, payload), 2), FindingCode::FdCountMismatch),
            "REM_MEM_REG request carries 2 fds, expected zero or one");
}

TEST(DecodePayload, LogBaseFdDependsOnLogShmfdOnlyWhenKnown) {
  const Bytes payload = cat({u64(0x20000), u64(0)});
  const auto unknown_ctx = decode(F, msg(6, kReq, payload), 0);
  ASSERT_EQ(unknown_ctx.payload_kind, PayloadKind::Log);
  EXPECT_EQ(std::get<LogValue>(unknown_ctx.payload).mmap_size, 0x20000u);
  EXPECT_TRUE(unknown_ctx.findings.empty());
  DecodeContext shm;
  shm.protocol_features_known = true;
  shm.protocol_features = feature_mask(ProtocolFeature::LOG_SHMFD);
  EXPECT_TRUE(decode(F, msg(6, kReq, payload), 1, shm).findings.empty());
  EXPECT_EQ(detail(decode(F, msg(6, kReq, payload), 0, shm), FindingCode::FdCountMismatch),
            "SET_LOG_BASE request carries 0 fds, expected one: LOG_SHMFD negotiated");
  DecodeContext none;
  none.protocol_features_known = true;
  EXPECT_EQ(count(decode(F, msg(6, kReq, payload), 1, none), FindingCode::FdCountMismatch), 1u);
  const auto reply = decode(F, msg(6, kReply, u64(0)));
  EXPECT_EQ(reply.payload_kind, PayloadKind::U64);
}

Bytes iotlb(uint64_t iova, uint64_t size, uint64_t uaddr, uint8_t perm, uint8_t type) {
  Bytes b = cat({u64(iova), u64(size), u64(uaddr)});
  b.push_back(perm);
  b.push_back(type);
  b.resize(32, 0);
  return b;
}

TEST(DecodePayload, Iotlb) {
  const auto upd = decode(F, msg(22, kNeedReply, iotlb(0x1000, 0x2000, 0x7f0000000000, 3, 2)));
  ASSERT_EQ(upd.payload_kind, PayloadKind::Iotlb);
  const auto& v = std::get<IotlbValue>(upd.payload);
  EXPECT_EQ(v.iova, 0x1000u);
  EXPECT_EQ(v.size, 0x2000u);
  EXPECT_EQ(v.uaddr, 0x7f0000000000u);
  EXPECT_EQ(v.perm, 3);
  EXPECT_EQ(v.type, 2);
  EXPECT_TRUE(upd.findings.empty());
  const auto miss = decode(B, msg(1, kReq, iotlb(0x5000, 0, 0, 1, 1)));
  EXPECT_EQ(miss.name(), "BACKEND_IOTLB_MSG");
  EXPECT_EQ(std::get<IotlbValue>(miss.payload).type, 1);
  EXPECT_EQ(detail(decode(F, msg(22, kReq, iotlb(0, 0, 0, 4, 63))), FindingCode::InvalidField),
            "iotlb.perm is 4, expected 0-3");
  EXPECT_EQ(count(decode(F, msg(22, kReq, iotlb(0, 0, 0, 0, 63))), FindingCode::InvalidField), 1u);
}

TEST(DecodePayload, ConfigRequestDataIgnoredReplyDataKept) {
  Bytes req = cat({u32(0), u32(60), u32(0)});
  req.resize(12 + 60, 0);
  const auto get = decode(F, msg(24, kReq, req));
  ASSERT_EQ(get.payload_kind, PayloadKind::Config);
  EXPECT_EQ(std::get<ConfigValue>(get.payload).size, 60u);
  EXPECT_TRUE(std::get<ConfigValue>(get.payload).data.empty());
  EXPECT_TRUE(get.findings.empty());

  Bytes rep = cat({u32(0), u32(8), u32(0), u64(0x200000)});  // capacity = 1 GiB in sectors
  const auto reply = decode(F, msg(24, kReply, rep));
  const auto& c = std::get<ConfigValue>(reply.payload);
  ASSERT_EQ(c.data.size(), 8u);
  EXPECT_EQ(c.data[2], 0x20);
  EXPECT_TRUE(reply.findings.empty());

  const auto set = decode(F, msg(25, kNeedReply, cat({u32(32), u32(1), u32(0), Bytes{1}})));
  EXPECT_EQ(std::get<ConfigValue>(set.payload).offset, 32u);
  EXPECT_EQ(std::get<ConfigValue>(set.payload).data, Bytes{1});
  EXPECT_TRUE(set.findings.empty());

  EXPECT_EQ(detail(decode(F, msg(25, kReq, cat({u32(0), u32(4), u32(0), Bytes{1}}))),
                   FindingCode::InvalidField),
            "config.size is 4 but the payload carries 1 data bytes");
  EXPECT_EQ(
      detail(decode(F, msg(24, kReply, cat({u32(0), u32(0), u32(0)}))), FindingCode::InvalidField),
      "GET_CONFIG reply has config.size 0 (back-end failure)");
  EXPECT_EQ(count(decode(F, msg(25, kReq, cat({u32(0), u32(1), u32(5), Bytes{1}}))),
                  FindingCode::InvalidField),
            1u);
  EXPECT_EQ(count(decode(F, msg(25, kReq, cat({u32(4095), u32(2), u32(0), Bytes{1, 2}}))),
                  FindingCode::InvalidField),
            1u);
}

TEST(DecodePayload, VringAreaOnTheBackendChannel) {
  const auto m = decode(B, msg(3, kReq, cat({u64(0x1), u64(4096), u64(0x3000)})), 1);
  ASSERT_EQ(m.payload_kind, PayloadKind::VringArea);
  const auto& a = std::get<VringAreaValue>(m.payload);
  EXPECT_EQ(a.index(), 1);
  EXPECT_FALSE(a.nofd());
  EXPECT_EQ(a.size, 4096u);
  EXPECT_EQ(a.offset, 0x3000u);
  EXPECT_TRUE(m.findings.empty()) << all_details(m);
  EXPECT_TRUE(decode(B, msg(3, kReq, cat({u64(0x101), u64(0), u64(0)})), 0).findings.empty());
  EXPECT_EQ(count(decode(B, msg(3, kReq, cat({u64(0x101), u64(0), u64(0)})), 1),
                  FindingCode::FdCountMismatch),
            1u);
  EXPECT_EQ(count(decode(B, msg(3, kReq, cat({u64(0x401), u64(4096), u64(0)})), 1),
                  FindingCode::InvalidField),
            1u);
  EXPECT_EQ(detail(decode(B, msg(3, kReq, cat({u64(0x1), u64(3000), u64(0)})), 1),
                   FindingCode::InvalidField),
            "vring.area_size is 3000, expected the host page size");
}

TEST(DecodePayload, BackendFdsNeedBackendSendFd) {
  DecodeContext ctx;
  ctx.protocol_features_known = true;
  ctx.protocol_features = (feature_mask(ProtocolFeature::BACKEND_REQ)) | (1ull << 11);
  const auto m = decode(B, msg(3, kReq, cat({u64(0x1), u64(4096), u64(0)})), 1, ctx);
  EXPECT_EQ(detail(m, FindingCode::FdCountMismatch),
            "BACKEND_VRING_HOST_NOTIFIER_MSG carries 1 fd but BACKEND_SEND_FD was not negotiated");
  ctx.protocol_features |= feature_mask(ProtocolFeature::BACKEND_SEND_FD);
  EXPECT_TRUE(decode(B, msg(3, kReq, cat({u64(0x1), u64(4096), u64(0)})), 1, ctx).findings.empty());
}

Bytes inflight(uint64_t size, uint64_t off, uint16_t queues, uint16_t qsize) {
  Bytes b = cat({u64(size), u64(off)});
  put(b, queues, 2);
  put(b, qsize, 2);
  put(b, 0, 4);
  return b;
}

TEST(DecodePayload, Inflight) {
  const auto req = decode(F, msg(31, kReq, inflight(0, 0, 1, 128)));
  ASSERT_EQ(req.payload_kind, PayloadKind::Inflight);
  EXPECT_EQ(std::get<InflightValue>(req.payload).num_queues, 1);
  EXPECT_EQ(std::get<InflightValue>(req.payload).queue_size, 128);
  EXPECT_TRUE(req.findings.empty());
  const auto rep = decode(F, msg(31, kReply, inflight(0x1040, 0, 1, 128)), 1);
  EXPECT_EQ(std::get<InflightValue>(rep.payload).mmap_size, 0x1040u);
  EXPECT_TRUE(rep.findings.empty()) << all_details(rep);
  EXPECT_TRUE(decode(F, msg(31, kReply, inflight(0, 0, 1, 128)), 0).findings.empty());
  EXPECT_EQ(
      detail(decode(F, msg(31, kReply, inflight(0, 0, 1, 128)), 1), FindingCode::FdCountMismatch),
      "GET_INFLIGHT_FD reply carries 1 fd, expected none: mmap_size is 0");
  EXPECT_EQ(count(decode(F, msg(31, kReply, inflight(0x1040, 0, 1, 128)), 0),
                  FindingCode::FdCountMismatch),
            1u);
  EXPECT_EQ(count(decode(F, msg(31, kReq, inflight(0, 0, 0, 128))), FindingCode::InvalidField), 1u);
  EXPECT_EQ(
      count(decode(F, msg(32, kReq, inflight(0x1040, 0, 1, 128)), 0), FindingCode::FdCountMismatch),
      1u);
  EXPECT_EQ(count(decode(F, msg(31, kReq, Bytes(20))), FindingCode::PayloadSizeMismatch), 1u);
}

TEST(DecodePayload, SharedObject) {
  Bytes uuid(16);
  for (int i = 0; i < 16; ++i) uuid[i] = static_cast<uint8_t>(0x10 + i);
  const auto m = decode(F, msg(41, kReq, uuid));
  ASSERT_EQ(m.payload_kind, PayloadKind::SharedObject);
  EXPECT_EQ(std::get<SharedObjectValue>(m.payload).uuid[0], 0x10);
  EXPECT_EQ(std::get<SharedObjectValue>(m.payload).uuid[15], 0x1f);
  // GET_SHARED_OBJECT reply: dmabuf on success, none on failure; either is acceptable here.
  EXPECT_TRUE(decode(F, msg(41, kReply, uuid), 1).findings.empty());
  EXPECT_TRUE(decode(F, msg(41, kReply, uuid), 0).findings.empty());
  EXPECT_EQ(count(decode(F, msg(41, kReply, uuid), 2), FindingCode::FdCountMismatch), 1u);
  EXPECT_EQ(decode(B, msg(6, kReq, uuid)).payload_kind, PayloadKind::SharedObject);
}

TEST(DecodePayload, DeviceStateTransfer) {
  const auto m = decode(F, msg(42, kReq, cat({u32(1), u32(0)})), 1, {});
  ASSERT_EQ(m.payload_kind, PayloadKind::DeviceStateParams);
  EXPECT_EQ(std::get<DeviceStateParamsValue>(m.payload).direction, 1u);
  EXPECT_TRUE(m.findings.empty());
  EXPECT_EQ(count(decode(F, msg(42, kReq, cat({u32(0), u32(0)})), 0), FindingCode::FdCountMismatch),
            1u);
  EXPECT_EQ(detail(decode(F, msg(42, kReq, cat({u32(2), u32(0)})), 1), FindingCode::InvalidField),
            "device_state.direction is 2, expected 0 (SAVE) or 1 (LOAD)");
  EXPECT_EQ(count(decode(F, msg(42, kReq, cat({u32(0), u32(1)})), 1), FindingCode::InvalidField),
            1u);

  const auto nofd = decode(F, msg(42, kReply, u64(0x100)), 0);
  ASSERT_EQ(nofd.payload_kind, PayloadKind::DeviceStateResult);
  EXPECT_TRUE(std::get<DeviceStateResultValue>(nofd.payload).no_fd());
  EXPECT_EQ(std::get<DeviceStateResultValue>(nofd.payload).error(), 0);
  EXPECT_TRUE(nofd.findings.empty());
  EXPECT_TRUE(decode(F, msg(42, kReply, u64(0)), 1).findings.empty());
  EXPECT_EQ(detail(decode(F, msg(42, kReply, u64(0)), 0), FindingCode::FdCountMismatch),
            "SET_DEVICE_STATE_FD reply carries 0 fds, expected one: no-fd bit is clear");
  EXPECT_EQ(count(decode(F, msg(42, kReply, u64(0x1100)), 0), FindingCode::InvalidField), 1u);
  const auto check = decode(F, msg(43, kReply, u64(0)));
  EXPECT_EQ(check.payload_kind, PayloadKind::Ack);
}

TEST(DecodePayload, ShmemMapAndConfig) {
  Bytes map = {3, 0, 0, 0, 0, 0, 0, 0};
  map = cat({map, u64(0x1000), u64(0x200000), u64(0x10000), u64(0x3)});
  const auto m = decode(B, msg(9, kNeedReply, map), 1);
  ASSERT_EQ(m.payload_kind, PayloadKind::ShmemMap);
  const auto& v = std::get<ShmemMapValue>(m.payload);
  EXPECT_EQ(v.shmid, 3);
  EXPECT_EQ(v.fd_offset, 0x1000u);
  EXPECT_EQ(v.shm_offset, 0x200000u);
  EXPECT_EQ(v.len, 0x10000u);
  EXPECT_EQ(v.flags, 3u);
  EXPECT_TRUE(m.findings.empty()) << all_details(m);
  EXPECT_TRUE(decode(B, msg(10, kNeedReply, map), 0).findings.empty());

  Bytes cfg = cat({u32(2), u32(0), u64(0x40000000), u64(0x1000)});
  for (int i = 2; i < 8; ++i) cfg = cat({cfg, u64(0)});
  const auto c = decode(F, msg(44, kReply, cfg));
  ASSERT_EQ(c.payload_kind, PayloadKind::ShmemConfig);
  EXPECT_EQ(std::get<ShmemConfigValue>(c.payload).nregions, 2u);
  ASSERT_EQ(std::get<ShmemConfigValue>(c.payload).sizes.size(), 8u);
  EXPECT_EQ(std::get<ShmemConfigValue>(c.payload).sizes[0], 0x40000000u);
  EXPECT_TRUE(c.findings.empty());
  EXPECT_EQ(
      count(decode(F, msg(44, kReply, cat({u32(3), u32(0), u64(1)}))), FindingCode::InvalidField),
      1u);
}

TEST(DecodePayload, OpaqueCryptoSession) {
  const auto m = decode(F, msg(26, kReq, Bytes(100, 0x5a)));
  EXPECT_EQ(m.payload_kind, PayloadKind::Opaque);
  EXPECT_EQ(std::get<OpaqueValue>(m.payload).length, 100u);
  EXPECT_TRUE(m.findings.empty());
}

TEST(DecodePayload, PostcopyAdviseReplyCarriesUserfaultfd) {
  EXPECT_TRUE(decode(F, msg(28, kReply, {}), 1).findings.empty());
  EXPECT_EQ(count(decode(F, msg(28, kReply, {}), 0), FindingCode::FdCountMismatch), 1u);
  EXPECT_EQ(decode(F, msg(29, kReply, u64(0))).payload_kind, PayloadKind::Ack);
}

TEST(DecodePayload, FdOnARequestThatTakesNone) {
  EXPECT_EQ(detail(decode(F, msg(3, kReq, {}), 1), FindingCode::FdCountMismatch),
            "SET_OWNER request carries 1 fd, expected none");
  EXPECT_EQ(detail(decode(F, msg(21, kReq, {}), 0), FindingCode::FdCountMismatch),
            "SET_BACKEND_REQ_FD request carries 0 fds, expected one");
}

// A typical QEMU <-> qemu-storage-daemon start sequence decodes without any finding.
TEST(DecodeHealthy, QemuStorageDaemonStartHasNoFindings) {
  const std::vector<std::pair<Bytes, size_t>> seq = {
      {msg(1, kReq, {}), 0},
      {msg(1, kReply, u64(0x1'7000'6e54)), 0},
      {msg(15, kReq, {}), 0},
      {msg(15, kReply, u64(0x3a6b)), 0},
      {msg(16, kReq, u64(0x3a6b)), 0},
      {msg(17, kReq, {}), 0},
      {msg(17, kReply, u64(1)), 0},
      {msg(36, kReq, {}), 0},
      {msg(36, kReply, u64(509)), 0},
      {msg(21, kNeedReply, {}), 1},
      {msg(21, kReply, u64(0)), 0},
      {msg(3, kReq, {}), 0},
      {msg(13, kReq, u64(0)), 1},
      {msg(2, kReq, u64(0x1'4000'0000)), 0},
      {msg(31, kReq, inflight(0, 0, 1, 128)), 0},
      {msg(31, kReply, inflight(0x1040, 0, 1, 128)), 1},
      {msg(32, kReq, inflight(0x1040, 0, 1, 128)), 1},
      {msg(37, kNeedReply, cat({u64(0), region(0, 0x40000000, 0x7f0000000000, 0)})), 1},
      {msg(37, kReply, u64(0)), 0},
      {msg(8, kReq, cat({u32(0), u32(128)})), 0},
      {msg(10, kReq, cat({u32(0), u32(0)})), 0},
      {msg(9, kReq,
           cat({u32(0), u32(0), u64(0x7f0000001000), u64(0x7f0000002000), u64(0x7f0000001800),
                u64(0x2000)})),
       0},
      {msg(12, kReq, u64(0)), 1},
      {msg(18, kNeedReply, cat({u32(0), u32(1)})), 0},
      {msg(18, kReply, u64(0)), 0},
      {msg(13, kReq, u64(0)), 1},
      {msg(11, kReq, cat({u32(0), u32(0)})), 0},
      {msg(11, kReply, cat({u32(0), u32(42)})), 0},
      {msg(38, kNeedReply, cat({u64(0), region(0, 0x40000000, 0x7f0000000000, 0)})), 1},
  };
  for (const auto& [bytes, n] : seq) {
    const auto m = decode(F, bytes, n);
    EXPECT_TRUE(m.findings.empty()) << m.name() << ": " << all_details(m);
  }
}

// Spec "Communication", "REPLY_ACK": who must answer what.
TEST(AnswerDue, IntrinsicRepliesNeedReplyAndLogShmfd) {
  const uint32_t v1 = kProtocolVersion;
  DecodeContext none, shmfd;
  shmfd.protocol_features = feature_mask(ProtocolFeature::LOG_SHMFD);
  const auto due = [](uint32_t request, uint32_t flags, const DecodeContext& ctx,
                      Channel channel = Channel::Frontend) {
    return answer_due(channel, msg(request, flags, u64(0)), ctx);
  };
  const auto n = [](FrontendRequest r) { return static_cast<uint32_t>(r); };
  EXPECT_TRUE(due(n(FrontendRequest::GET_FEATURES), v1, none));
  EXPECT_FALSE(due(n(FrontendRequest::SET_OWNER), v1, none));
  EXPECT_TRUE(due(n(FrontendRequest::SET_OWNER), v1 | kFlagNeedReply, none));
  EXPECT_FALSE(due(n(FrontendRequest::SET_LOG_BASE), v1, none));
  EXPECT_TRUE(due(n(FrontendRequest::SET_LOG_BASE), v1, shmfd));
  EXPECT_FALSE(due(n(FrontendRequest::GET_FEATURES), v1 | kFlagReply, none));  // a reply
  EXPECT_FALSE(due(0xffff, v1, none));                                         // unknown
  EXPECT_TRUE(due(0xffff, v1 | kFlagNeedReply, none));
  EXPECT_FALSE(due(static_cast<uint32_t>(BackendRequest::BACKEND_CONFIG_CHANGE_MSG), v1, none,
                   Channel::Backend));
  EXPECT_FALSE(answer_due(Channel::Frontend, Bytes{1, 0, 0}, none));  // short header
}

}  // namespace
}  // namespace vhs
