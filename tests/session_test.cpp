// SessionAnalyser on hand-built message sequences: pairing and acks, negotiation findings,
// memory table, vring lifecycle, back-end channel, device inference and unanswered requests.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "decoders/session/ring_health.hpp"
#include "decoders/session/session.hpp"

namespace vhs {
namespace {

constexpr uint32_t kRequest = 0x1;
constexpr uint32_t kNeedReply = 0x9;
constexpr uint32_t kReply = 0x5;

constexpr uint64_t kBit30 = uint64_t{1} << 30;
constexpr uint64_t kVersion1 = uint64_t{1} << 32;
constexpr uint64_t kProtoReplyAckBit = uint64_t{1} << 3;
constexpr uint64_t kProtoBackendReqBit = uint64_t{1} << 5;
constexpr uint64_t kProtoConfigBit = uint64_t{1} << 9;
constexpr uint64_t kProtoMemSlotsBit = uint64_t{1} << 15;

const RequestInfo& row(std::string_view name) {
  const RequestInfo* info = find_request_by_name(name);
  EXPECT_NE(info, nullptr) << name;
  return *info;
}

// A decoded message as decode_message would produce it, built without the decoder so the
// analyser is tested on its own.
DecodedMessage make(std::string_view name, uint32_t flags, Payload payload = {}, uint32_t size = 0,
                    uint32_t fd_count = 0) {
  const RequestInfo& info = row(name);
  DecodedMessage m;
  m.header = {info.number, flags, size};
  m.header_complete = true;
  m.channel = info.channel;
  m.info = &info;
  m.is_reply = (flags & kFlagReply) != 0;
  m.payload = std::move(payload);
  m.fd_count = fd_count;
  return m;
}

FdInfo memfd(uint64_t size, uint64_t inode = 100) {
  return {FdKind::Memfd, inode, size, "memfd:pc.ram"};
}
FdInfo eventfd(uint64_t inode = 200) { return {FdKind::Eventfd, inode, 0, "[eventfd]"}; }
FdInfo socket_fd() { return {FdKind::Socket, 300, 0, "socket:[300]"}; }

// Feeds messages with increasing references and timestamps; replies travel against the
// channel's request direction.
struct Feeder {
  SessionAnalyser analyser;
  uint64_t now = 1'000'000'000;
  MessageRef next_ref = 0;

  explicit Feeder(SessionAnalyser::Options o = {}) : analyser(o) {}

  Observation feed(const DecodedMessage& m, std::vector<FdInfo> fds = {}, uint64_t step_ns = 1000) {
    now += step_ns;
    Direction d = request_direction(m.channel);
    if (m.is_reply) d = d == Direction::ToBackend ? Direction::ToFrontend : Direction::ToBackend;
    return analyser.on_message(next_ref++, now, d, m, fds);
  }
  Observation req(std::string_view name, Payload p = {}, uint32_t flags = kRequest,
                  std::vector<FdInfo> fds = {}) {
    return feed(make(name, flags, std::move(p), 0, static_cast<uint32_t>(fds.size())), fds);
  }
  Observation reply(std::string_view name, Payload p = {}, uint64_t step_ns = 1000) {
    return feed(make(name, kReply, std::move(p)), {}, step_ns);
  }
  Observation ack(std::string_view name, uint64_t value = 0) {
    return reply(name, U64Value{value});
  }

  // QEMU's realize order (QEMU's vhost_dev_init / vhost_user_backend_init) with the given offers;
  // acks what QEMU would.
  void negotiate(uint64_t features, uint64_t protocol) {
    req("GET_FEATURES");
    reply("GET_FEATURES", U64Value{features});
    req("GET_PROTOCOL_FEATURES");
    reply("GET_PROTOCOL_FEATURES", U64Value{protocol});
    req("SET_PROTOCOL_FEATURES", U64Value{protocol});
  }
};

std::vector<FindingCode> codes(const std::vector<Finding>& fs) {
  std::vector<FindingCode> out;
  for (const auto& f : fs) out.push_back(f.code);
  return out;
}

using Codes = std::vector<FindingCode>;

TEST(SessionPairing, IntrinsicReplyPairsWithRequestAndMeasuresLatency) {
  Feeder f;
  Observation r = f.req("GET_FEATURES");
  EXPECT_EQ(r.role, MessageRole::Request);
  EXPECT_EQ(r.expects, ReplyExpectation::Reply);
  ASSERT_EQ(f.analyser.pending().size(), 1u);
  Observation a = f.reply("GET_FEATURES", U64Value{kBit30 | kVersion1}, 2'500'000);
  EXPECT_EQ(a.role, MessageRole::Reply);
  EXPECT_EQ(a.answers, 0u);
  EXPECT_EQ(a.latency_ns, 2'500'000u);
  EXPECT_TRUE(a.findings.empty());
  EXPECT_TRUE(f.analyser.pending().empty());
  EXPECT_EQ(f.analyser.state().features.offered, kBit30 | kVersion1);
  EXPECT_EQ(f.analyser.state().features.offered_by, 1u);
}

TEST(SessionPairing, QemuRealizeWithReplyAckRaisesNothing) {
  Feeder f;
  const uint64_t proto =
      kProtoReplyAckBit | kProtoBackendReqBit | kProtoConfigBit | kProtoMemSlotsBit | 1;
  std::vector<Finding> all;
  auto keep = [&](Observation o) {
    for (auto& x : o.findings) all.push_back(x);
    for (auto& x : o.earlier) all.push_back(x.finding);
    return o;
  };
  keep(f.req("GET_FEATURES"));
  keep(f.reply("GET_FEATURES", U64Value{kBit30 | kVersion1 | (1u << 6)}));
  keep(f.req("GET_PROTOCOL_FEATURES"));
  keep(f.reply("GET_PROTOCOL_FEATURES", U64Value{proto}));
  keep(f.req("SET_PROTOCOL_FEATURES", U64Value{proto}));
  keep(f.req("GET_QUEUE_NUM"));
  keep(f.reply("GET_QUEUE_NUM", U64Value{1}));
  keep(f.req("GET_MAX_MEM_SLOTS"));
  keep(f.reply("GET_MAX_MEM_SLOTS", U64Value{509}));
  Observation be = keep(f.req("SET_BACKEND_REQ_FD", {}, kNeedReply, {socket_fd()}));
  EXPECT_EQ(be.expects, ReplyExpectation::Ack);
  Observation ack = keep(f.ack("SET_BACKEND_REQ_FD"));
  EXPECT_EQ(ack.role, MessageRole::Ack);
  EXPECT_EQ(ack.answers, 9u);
  keep(f.req("SET_OWNER"));
  keep(f.req("GET_FEATURES"));
  keep(f.reply("GET_FEATURES", U64Value{kBit30 | kVersion1 | (1u << 6)}));
  keep(f.req("SET_VRING_CALL", VringIndexFdValue{0}, kRequest, {eventfd()}));
  keep(f.req("GET_CONFIG", ConfigValue{0, 60, 0, {}}));
  ConfigValue cfg{0, 60, 0, std::vector<uint8_t>(60, 0)};
  cfg.data[0] = 0x00;
  cfg.data[1] = 0x10;  // capacity 4096 sectors
  keep(f.reply("GET_CONFIG", cfg));
  // Start: SET_FEATURES without LOG_ALL, a memory table acked, ring setup, enable with ack.
  keep(f.req("SET_FEATURES", U64Value{kBit30 | kVersion1}));
  keep(f.req("ADD_MEM_REG", SingleRegionValue{0, {0, 1 << 30, 0x7f0000000000, 0}}, kNeedReply,
             {memfd(1 << 30)}));
  keep(f.ack("ADD_MEM_REG"));
  keep(f.req("SET_VRING_NUM", VringStateValue{0, 256}));
  keep(f.req("SET_VRING_BASE", VringStateValue{0, 0}));
  keep(f.req("SET_VRING_ADDR",
             VringAddrValue{0, 0, 0x7f0000001000, 0x7f0000003000, 0x7f0000002000, 0x3000}));
  keep(f.req("SET_VRING_KICK", VringIndexFdValue{0}, kRequest, {eventfd(201)}));
  keep(f.req("SET_VRING_ENABLE", VringStateValue{0, 1}, kNeedReply));
  keep(f.ack("SET_VRING_ENABLE"));
  keep(f.req("SET_VRING_CALL", VringIndexFdValue{0}, kRequest, {eventfd(202)}));

  EXPECT_EQ(codes(all), Codes{});
  const SessionState& s = f.analyser.state();
  EXPECT_EQ(s.queue_num, 1u);
  EXPECT_EQ(s.max_mem_slots, 509u);
  EXPECT_TRUE(s.owner_set);
  EXPECT_TRUE(s.backend_channel.established);
  EXPECT_EQ(s.backend_channel.fd.kind, FdKind::Socket);
  EXPECT_EQ(s.device, DeviceKind::Blk);  // GET_CONFIG of 60 bytes, not an fs tag
  ASSERT_EQ(s.regions.size(), 1u);
  const VringState* v = s.vring(0);
  ASSERT_NE(v, nullptr);
  EXPECT_TRUE(v->started);
  EXPECT_TRUE(v->enabled);
  EXPECT_EQ(v->num, 256u);
  EXPECT_EQ(v->call.fd.inode, 202u);
  EXPECT_EQ(v->count_of(&row("SET_VRING_CALL")), 2u);
  EXPECT_TRUE(f.analyser.pending().empty());
  EXPECT_TRUE(f.analyser.finish(f.now, SessionAnalyser::End::RecorderStopped).empty());
}

TEST(SessionPairing, QemuWithoutReplyAckUsesGetFeaturesBarrierWithoutFindings) {
  Feeder f;
  f.negotiate(kBit30 | kVersion1, kProtoConfigBit);
  Observation e = f.req("SET_VRING_ENABLE", VringStateValue{0, 1});
  EXPECT_EQ(e.expects, ReplyExpectation::None);
  Observation g = f.req("GET_FEATURES");
  EXPECT_TRUE(g.earlier.empty());
  Observation r = f.reply("GET_FEATURES", U64Value{kBit30 | kVersion1});
  EXPECT_TRUE(r.findings.empty());
  EXPECT_EQ(r.answers, 6u);
}

TEST(SessionPairing, NeedReplyWithoutReplyAckIsAnOptionalAck) {
  Feeder f;
  f.negotiate(kBit30, 0);  // REPLY_ACK not negotiated
  Observation a = f.req("SET_VRING_NUM", VringStateValue{0, 128}, kNeedReply);
  EXPECT_EQ(a.expects, ReplyExpectation::OptionalAck);
  // libvhost-user acks anyway: paired, not unexpected.
  Observation ack = f.ack("SET_VRING_NUM");
  EXPECT_EQ(ack.role, MessageRole::Ack);
  EXPECT_EQ(ack.answers, 5u);
  EXPECT_TRUE(ack.findings.empty());
  // A back-end that stays silent is not at fault either.
  f.req("SET_VRING_BASE", VringStateValue{0, 0}, kNeedReply);
  Observation next = f.req("SET_VRING_ADDR", VringAddrValue{});
  EXPECT_TRUE(next.earlier.empty());
  EXPECT_TRUE(f.analyser.finish(f.now, SessionAnalyser::End::RecorderStopped).empty());
}

TEST(SessionPairing, ReplyWithNothingWaitingIsUnexpected) {
  Feeder f;
  Observation r = f.reply("GET_STATUS", U64Value{0});
  EXPECT_EQ(codes(r.findings), Codes{FindingCode::UnexpectedReply});
  EXPECT_EQ(r.answers, kNoMessage);
  EXPECT_EQ(r.findings[0].detail,
            "GET_STATUS reply, but no request on this channel is waiting for one");
}

TEST(SessionPairing, AckForRequestWithoutNeedReplyIsUnexpected) {
  Feeder f;
  f.negotiate(kBit30, kProtoReplyAckBit);
  f.req("SET_OWNER");
  Observation r = f.ack("SET_OWNER");
  EXPECT_EQ(codes(r.findings), Codes{FindingCode::UnexpectedReply});
}

TEST(SessionPairing, ReplyInRequestDirectionIsUnexpected) {
  Feeder f;
  f.req("GET_FEATURES");
  DecodedMessage m = make("GET_FEATURES", kReply, U64Value{0});
  Observation r = f.analyser.on_message(9, f.now + 1, Direction::ToBackend, m, {});
  EXPECT_EQ(codes(r.findings), Codes{FindingCode::UnexpectedReply});
  EXPECT_EQ(f.analyser.pending().size(), 1u);  // the real reply may still come
}

TEST(SessionPairing, ReplyWithOtherCodeIsMismatchAndConsumesTheWait) {
  Feeder f;
  f.req("GET_FEATURES");
  Observation r = f.reply("GET_PROTOCOL_FEATURES", U64Value{0});
  EXPECT_EQ(codes(r.findings), Codes{FindingCode::ReplyCodeMismatch});
  EXPECT_EQ(r.answers, 0u);
  EXPECT_EQ(r.findings[0].detail,
            "reply carries request code 15 (GET_PROTOCOL_FEATURES) but the waiting request is "
            "GET_FEATURES (code 1)");
  EXPECT_TRUE(f.analyser.pending().empty());
  // The mismatched payload must not be taken as the virtio offer.
  EXPECT_FALSE(f.analyser.state().features.offered.has_value());
}

TEST(SessionPairing, NewRequestWhileReplyMissingIsReportedOnTheWaitingRequest) {
  Feeder f;
  f.req("GET_VRING_BASE", VringStateValue{1, 0});
  Observation next = f.req("SET_VRING_CALL", VringIndexFdValue{1}, kRequest, {eventfd()});
  ASSERT_EQ(next.earlier.size(), 1u);
  EXPECT_EQ(next.earlier[0].ref, 0u);
  EXPECT_EQ(next.earlier[0].finding.code, FindingCode::MissingReply);
  EXPECT_EQ(next.earlier[0].finding.detail,
            "GET_VRING_BASE (index 1) got no reply before the next request SET_VRING_CALL");
  EXPECT_TRUE(next.findings.empty());
  // Reported once, and no longer counted as waiting.
  EXPECT_TRUE(f.req("SET_VRING_ERR", VringIndexFdValue{0x101}).earlier.empty());
  EXPECT_TRUE(f.analyser.pending().empty());
  // A late reply still pairs by code.
  Observation late = f.reply("GET_VRING_BASE", VringStateValue{1, 77});
  EXPECT_EQ(late.answers, 0u);
  EXPECT_TRUE(late.findings.empty());
  EXPECT_EQ(f.analyser.state().vring(1)->last_base, 77u);
  EXPECT_TRUE(f.analyser.finish(f.now, SessionAnalyser::End::RecorderStopped).empty());
}

TEST(SessionPairing, NonzeroAckIsAFinding) {
  Feeder f;
  f.negotiate(kBit30, kProtoReplyAckBit);
  f.req("SET_MEM_TABLE", MemTableValue{1, 0, {{0, 4096, 0x1000, 0}}}, kNeedReply, {memfd(4096)});
  Observation a = f.ack("SET_MEM_TABLE", 1);
  EXPECT_EQ(codes(a.findings), Codes{FindingCode::NonzeroAck});
  EXPECT_EQ(
      a.findings[0].detail,
      "SET_MEM_TABLE answered 0x1; 0 means success, the front-end treats anything else as failure");
}

TEST(SessionPairing, ChannelsPairIndependently) {
  Feeder f;
  f.negotiate(kBit30, kProtoReplyAckBit | kProtoBackendReqBit | kProtoConfigBit);
  f.req("SET_BACKEND_REQ_FD", {}, kNeedReply, {socket_fd()});
  f.ack("SET_BACKEND_REQ_FD");
  f.req("GET_VRING_BASE", VringStateValue{0, 0});  // front-end channel waits
  // Meanwhile the back-end asks the front-end something on its own channel.
  Observation b = f.req("BACKEND_CONFIG_CHANGE_MSG", {}, kNeedReply);
  EXPECT_TRUE(b.earlier.empty());
  EXPECT_TRUE(b.findings.empty());
  Observation back_ack = f.ack("BACKEND_CONFIG_CHANGE_MSG");
  EXPECT_EQ(back_ack.answers, 8u);
  EXPECT_EQ(back_ack.role, MessageRole::Ack);
  Observation fr = f.reply("GET_VRING_BASE", VringStateValue{0, 5});
  EXPECT_EQ(fr.answers, 7u);
  EXPECT_EQ(f.analyser.state().backend_channel.messages, 2u);
}

TEST(SessionPairing, SetLogBaseHasAReplyOnlyWithLogShmfd) {
  Feeder with;
  with.negotiate(kBit30, 2);  // LOG_SHMFD
  Observation r = with.req("SET_LOG_BASE", LogValue{4096, 0}, kRequest, {memfd(4096)});
  EXPECT_EQ(r.expects, ReplyExpectation::Reply);
  EXPECT_EQ(with.reply("SET_LOG_BASE", U64Value{0}).answers, 5u);
  EXPECT_TRUE(with.analyser.state().log.has_fd);
  EXPECT_EQ(with.analyser.state().log.log->mmap_size, 4096u);

  Feeder without;
  without.negotiate(kBit30, 0);
  EXPECT_EQ(without.req("SET_LOG_BASE", LogValue{4096, 0}).expects, ReplyExpectation::None);
}

TEST(SessionPairing, UnknownRequestWithNeedReplyMayBeAnswered) {
  Feeder f;
  DecodedMessage unknown;
  unknown.header = {99, kNeedReply, 0};
  unknown.header_complete = true;
  Observation o = f.feed(unknown);
  EXPECT_EQ(o.expects, ReplyExpectation::OptionalAck);
  DecodedMessage answer;
  answer.header = {99, kReply, 8};
  answer.header_complete = true;
  answer.is_reply = true;
  Observation a = f.feed(answer);
  EXPECT_EQ(a.answers, 0u);
  EXPECT_TRUE(a.findings.empty());
  EXPECT_TRUE(f.analyser.finish(f.now, SessionAnalyser::End::RecorderStopped).empty());
}

TEST(SessionNegotiation, AckedNotOfferedNamesTheExtraBits) {
  Feeder f;
  f.req("GET_FEATURES");
  f.reply("GET_FEATURES", U64Value{kBit30});
  Observation s = f.req("SET_FEATURES", U64Value{kBit30 | kVersion1});
  EXPECT_EQ(codes(s.findings), Codes{FindingCode::AckedNotOffered});
  EXPECT_NE(s.findings[0].detail.find("0x100000000"), std::string::npos) << s.findings[0].detail;
  EXPECT_NE(s.findings[0].detail.find("VERSION_1"), std::string::npos) << s.findings[0].detail;
  EXPECT_EQ(f.analyser.state().features.acked, kBit30 | kVersion1);
}

TEST(SessionNegotiation, ProtocolAckedNotOffered) {
  Feeder f;
  f.req("GET_FEATURES");
  f.reply("GET_FEATURES", U64Value{kBit30});
  f.req("GET_PROTOCOL_FEATURES");
  f.reply("GET_PROTOCOL_FEATURES", U64Value{kProtoReplyAckBit});
  Observation s = f.req("SET_PROTOCOL_FEATURES", U64Value{kProtoReplyAckBit | kProtoConfigBit});
  EXPECT_EQ(codes(s.findings), Codes{FindingCode::ProtocolAckedNotOffered});
  EXPECT_NE(s.findings[0].detail.find("CONFIG"), std::string::npos) << s.findings[0].detail;
}

TEST(SessionNegotiation, GatedRequestWithoutItsProtocolFeature) {
  Feeder f;
  f.negotiate(kBit30, kProtoReplyAckBit);
  Observation g = f.req("GET_CONFIG", ConfigValue{0, 8, 0, {}});
  EXPECT_EQ(codes(g.findings), Codes{FindingCode::FeatureNotNegotiated});
  EXPECT_EQ(g.findings[0].detail,
            "GET_CONFIG needs protocol feature CONFIG (bit 9), not acked by SET_PROTOCOL_FEATURES "
            "(acked 0x8)");
}

TEST(SessionNegotiation, GatedRequestBeforeNegotiationIsAWarning) {
  Feeder f;
  Observation g = f.req("GET_QUEUE_NUM");
  EXPECT_EQ(codes(g.findings), Codes{FindingCode::RequestBeforeNegotiation});
  // Joined mid-way: we cannot know, so say nothing.
  Feeder late(SessionAnalyser::Options{DeviceKind::Unknown, false});
  EXPECT_TRUE(late.req("GET_QUEUE_NUM").findings.empty());
}

TEST(SessionNegotiation, GatedRequestNotOfferedBeforeAck) {
  Feeder f;
  f.req("GET_FEATURES");
  f.reply("GET_FEATURES", U64Value{kBit30});
  f.req("GET_PROTOCOL_FEATURES");
  f.reply("GET_PROTOCOL_FEATURES", U64Value{0});
  Observation g = f.req("GET_STATUS");
  EXPECT_EQ(codes(g.findings), Codes{FindingCode::FeatureNotNegotiated});
  EXPECT_NE(g.findings[0].detail.find("did not offer"), std::string::npos);
}

TEST(SessionNegotiation, ProtocolFeaturesNeedVirtioBit30Offered) {
  Feeder f;
  f.req("GET_FEATURES");
  f.reply("GET_FEATURES", U64Value{kVersion1});
  Observation g = f.req("GET_PROTOCOL_FEATURES");
  EXPECT_EQ(codes(g.findings), Codes{FindingCode::FeatureNotNegotiated});
  // Before any GET_FEATURES reply it is legal as far as we can tell.
  Feeder early;
  EXPECT_TRUE(early.req("GET_PROTOCOL_FEATURES").findings.empty());
}

TEST(SessionNegotiation, DecodeContextCarriesAckedProtocolFeatures) {
  Feeder f;
  EXPECT_FALSE(f.analyser.decode_context().protocol_features_known);
  f.negotiate(kBit30, kProtoReplyAckBit | 4);
  DecodeContext ctx = f.analyser.decode_context();
  EXPECT_TRUE(ctx.protocol_features_known);
  EXPECT_EQ(ctx.protocol_features, kProtoReplyAckBit | 4);
  EXPECT_EQ(ctx.device, DeviceKind::Net);  // RARP offered: only net back-ends do that
}

TEST(SessionMemory, TableReplacedAddedAndRemoved) {
  Feeder f;
  f.negotiate(kBit30, kProtoMemSlotsBit);
  f.req("SET_MEM_TABLE",
        MemTableValue{2,
                      0,
                      {{0, 0x80000000, 0x7f0000000000, 0},
                       {0x100000000, 0x40000000, 0x7f0080000000, 0x80000000}}},
        kRequest, {memfd(0xc0000000, 1), memfd(0xc0000000, 1)});
  const SessionState& s = f.analyser.state();
  ASSERT_EQ(s.regions.size(), 2u);
  EXPECT_EQ(s.regions[1].region.mmap_offset, 0x80000000u);
  EXPECT_TRUE(s.regions[1].has_fd);
  EXPECT_EQ(s.regions[1].fd.size, 0xc0000000u);
  EXPECT_EQ(s.regions[1].added_by, 5u);

  f.req("ADD_MEM_REG", SingleRegionValue{0, {0x200000000, 0x1000, 0x7f0100000000, 0}}, kRequest,
        {memfd(0x1000, 2)});
  ASSERT_EQ(s.regions.size(), 3u);
  EXPECT_EQ(s.regions[2].fd.inode, 2u);
  // REM_MEM_REG matches on GPA + UVA + size; the offset does not matter.
  Observation rem =
      f.req("REM_MEM_REG", SingleRegionValue{0, {0, 0x80000000, 0x7f0000000000, 0x1234}});
  EXPECT_TRUE(rem.findings.empty());
  ASSERT_EQ(s.regions.size(), 2u);
  EXPECT_EQ(s.regions[0].region.guest_phys_addr, 0x100000000u);
  Observation unknown =
      f.req("REM_MEM_REG", SingleRegionValue{0, {0x100000000, 0x1000, 0x7f0080000000, 0}});
  EXPECT_EQ(codes(unknown.findings), Codes{FindingCode::UnknownRegion});
  EXPECT_EQ(unknown.findings[0].detail,
            "REM_MEM_REG GPA 0x100000000 size 0x1000 UVA 0x7f0080000000 matches none of the 2 "
            "regions in the memory table");
  // A new SET_MEM_TABLE replaces everything.
  f.req("SET_MEM_TABLE", MemTableValue{1, 0, {{0, 0x1000, 0x5000, 0}}}, kRequest,
        {memfd(0x1000, 9)});
  ASSERT_EQ(s.regions.size(), 1u);
  EXPECT_EQ(s.regions[0].fd.inode, 9u);
}

TEST(SessionMemory, OverlappingRegionsAreReported) {
  Feeder f;
  Observation t = f.req(
      "SET_MEM_TABLE", MemTableValue{2, 0, {{0, 0x2000, 0x10000, 0}, {0x1000, 0x2000, 0x90000, 0}}},
      kRequest, {memfd(0x2000), memfd(0x2000)});
  EXPECT_EQ(codes(t.findings), Codes{FindingCode::OverlappingRegion});
  EXPECT_NE(t.findings[0].detail.find("guest-physical"), std::string::npos);
  // Same GPA space free, but the user addresses collide.
  Observation add = f.req("ADD_MEM_REG", SingleRegionValue{0, {0x100000, 0x1000, 0x10800, 0}},
                          kRequest, {memfd(0x1000)});
  // (ADD_MEM_REG also warns that CONFIGURE_MEM_SLOTS was never negotiated here.)
  bool has_overlap = false;
  for (const auto& x : add.findings) has_overlap |= x.code == FindingCode::OverlappingRegion;
  EXPECT_TRUE(has_overlap);
}

TEST(SessionMemory, PostcopyEchoAndAcknowledgementKeepTheTable) {
  Feeder f;
  f.negotiate(kBit30, uint64_t{1} << 8);  // PAGEFAULT
  f.req("POSTCOPY_LISTEN", {}, kNeedReply);
  f.ack("POSTCOPY_LISTEN");
  Observation t = f.req("SET_MEM_TABLE", MemTableValue{1, 0, {{0, 0x1000, 0x5000, 0}}}, kRequest,
                        {memfd(0x1000)});
  EXPECT_EQ(t.expects, ReplyExpectation::Reply);
  Observation echo = f.reply("SET_MEM_TABLE", MemTableValue{1, 0, {{0, 0x1000, 0x7fff0000, 0}}});
  EXPECT_TRUE(echo.findings.empty());
  EXPECT_EQ(echo.answers, 7u);
  // The u64 acknowledgement (size 8): a request, not a table.
  DecodedMessage ackmsg = make("SET_MEM_TABLE", kRequest, U64Value{0}, 8);
  Observation o = f.feed(ackmsg);
  EXPECT_EQ(o.expects, ReplyExpectation::None);
  ASSERT_EQ(f.analyser.state().regions.size(), 1u);
  EXPECT_EQ(f.analyser.state().regions[0].region.userspace_addr, 0x5000u);
}

TEST(SessionVring, LifecycleFromSetupToStop) {
  Feeder f;
  f.negotiate(kBit30, 0);
  f.req("SET_FEATURES", U64Value{kBit30});
  f.req("SET_VRING_NUM", VringStateValue{1, 128});
  f.req("SET_VRING_BASE", VringStateValue{1, 7});
  f.req("SET_VRING_ADDR", VringAddrValue{1, 1, 0x1000, 0x3000, 0x2000, 0x9000});
  const SessionState& s = f.analyser.state();
  const VringState* v = s.vring(1);
  ASSERT_NE(v, nullptr);
  EXPECT_FALSE(v->started);
  EXPECT_FALSE(v->enabled);  // bit 30 acked: rings start disabled
  f.req("SET_VRING_KICK", VringIndexFdValue{1}, kRequest, {eventfd(5)});
  f.req("SET_VRING_CALL", VringIndexFdValue{0x101});
  f.req("SET_VRING_ENABLE", VringStateValue{1, 1});
  v = s.vring(1);
  EXPECT_TRUE(v->started);
  EXPECT_TRUE(v->enabled);
  EXPECT_EQ(v->num, 128u);
  EXPECT_EQ(v->base, 7u);
  ASSERT_TRUE(v->addr.has_value());
  EXPECT_EQ(v->addr->used_user_addr, 0x3000u);
  EXPECT_EQ(v->addr->log_guest_addr, 0x9000u);
  EXPECT_EQ(v->kick.state, NotifierSlot::State::Fd);
  EXPECT_EQ(v->kick.fd.inode, 5u);
  EXPECT_EQ(v->call.state, NotifierSlot::State::NoFd);
  EXPECT_EQ(v->err.state, NotifierSlot::State::Unset);
  EXPECT_EQ(s.vring(0), nullptr);

  f.req("GET_VRING_BASE", VringStateValue{1, 0});
  EXPECT_FALSE(s.vring(1)->started);
  EXPECT_TRUE(s.vring(1)->enabled);  // enable state survives a stop
  f.reply("GET_VRING_BASE", VringStateValue{1, 42});
  EXPECT_EQ(s.vring(1)->last_base, 42u);
  EXPECT_EQ(s.vring(1)->count_of(&row("GET_VRING_BASE")), 1u);
  EXPECT_EQ(s.vring(1)->count_of(&row("SET_VRING_KICK")), 1u);
  EXPECT_EQ(s.vring(1)->count_of(&row("SET_VRING_ERR")), 0u);

  f.req("SET_VRING_KICK", VringIndexFdValue{1}, kRequest, {eventfd(6)});
  EXPECT_TRUE(s.vring(1)->started);
  f.req("RESET_OWNER");
  EXPECT_FALSE(s.vring(1)->started);
  EXPECT_FALSE(s.owner_set);
}

TEST(SessionVring, RingsEnabledAtOnceWithoutProtocolFeatures) {
  Feeder f;
  f.req("SET_VRING_NUM", VringStateValue{0, 64});
  f.req("SET_FEATURES", U64Value{kVersion1});
  EXPECT_TRUE(f.analyser.state().vring(0)->enabled);
  f.req("SET_VRING_NUM", VringStateValue{1, 64});
  EXPECT_TRUE(f.analyser.state().vring(1)->enabled);
  Observation e = f.req("SET_VRING_ENABLE", VringStateValue{1, 0});
  EXPECT_EQ(codes(e.findings), Codes{FindingCode::FeatureNotNegotiated});
}

TEST(SessionVring, IndexBeyondQueueCount) {
  Feeder f(SessionAnalyser::Options{DeviceKind::Blk, true});
  f.negotiate(kBit30, 1);  // MQ
  f.req("GET_QUEUE_NUM");
  f.reply("GET_QUEUE_NUM", U64Value{2});
  EXPECT_TRUE(f.req("SET_VRING_NUM", VringStateValue{1, 64}).findings.empty());
  Observation o = f.req("SET_VRING_NUM", VringStateValue{2, 64});
  EXPECT_EQ(codes(o.findings), Codes{FindingCode::VringIndexOutOfRange});
  Observation huge = f.req("SET_VRING_NUM", VringStateValue{0xffffff, 64});
  EXPECT_EQ(codes(huge.findings), Codes{FindingCode::VringIndexOutOfRange});
  EXPECT_EQ(f.analyser.state().vring(0xffffff), nullptr);  // not tracked
}

TEST(SessionFinish, WaitingRequestsBecomeUnanswered) {
  Feeder f;
  f.req("GET_VRING_BASE", VringStateValue{0, 0});
  const uint64_t sent = f.now;
  ASSERT_EQ(f.analyser.pending().size(), 1u);
  EXPECT_EQ(f.analyser.pending()[0].timestamp_ns, sent);
  auto found = f.analyser.finish(sent + 2'310'000'000, SessionAnalyser::End::RecorderStopped);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].ref, 0u);
  EXPECT_EQ(found[0].finding.code, FindingCode::Unanswered);
  EXPECT_EQ(found[0].finding.detail,
            "GET_VRING_BASE (index 0) unanswered: waiting for 2310 ms when the capture ended");
  EXPECT_TRUE(
      f.analyser.finish(sent + 5'000'000'000, SessionAnalyser::End::RecorderStopped).empty());
  EXPECT_TRUE(f.analyser.finished());
  EXPECT_EQ(f.analyser.pending().size(), 1u);  // still listed for the summary
}

// A capture that ends without the recorder's closing record (killed recorder, cut file) cannot
// tell a hang from a reply not yet written: info, not an error.
TEST(SessionFinish, CutCaptureLeavesNoReplyYetNotAnError) {
  Feeder f;
  f.req("GET_VRING_BASE", VringStateValue{0, 0});
  auto found = f.analyser.finish(f.now + 40'000'000, SessionAnalyser::End::CaptureCut);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].finding.code, FindingCode::NoReplyYet);
  EXPECT_EQ(found[0].finding.severity(), Severity::Info);
  EXPECT_EQ(found[0].finding.detail,
            "GET_VRING_BASE (index 0) had no reply yet when the capture ends (40 ms after it was "
            "sent; the file ends without the recorder's closing record)");
}

TEST(SessionFinish, CutCaptureAfterALongWaitIsStillUnanswered) {
  Feeder f;
  f.req("GET_VRING_BASE", VringStateValue{0, 0});
  auto found = f.analyser.finish(f.now + kReplyTimeoutNs, SessionAnalyser::End::CaptureCut);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].finding.code, FindingCode::Unanswered);
}

TEST(SessionFinish, DisconnectWithPendingAck) {
  Feeder f;
  f.negotiate(kBit30, kProtoReplyAckBit);
  f.req("SET_VRING_ENABLE", VringStateValue{0, 0}, kNeedReply);
  auto found = f.analyser.finish(f.now + 120'000'000, SessionAnalyser::End::PeerClosed);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].ref, 5u);
  EXPECT_EQ(found[0].finding.code, FindingCode::DisconnectWithPending);
  EXPECT_EQ(found[0].finding.detail,
            "SET_VRING_ENABLE (index 0) was still waiting for its ack when the connection closed, "
            "120 ms after it was sent");
}

TEST(SessionDevice, InferFsFromConfigTagAndHonourUserChoice) {
  Feeder f;
  f.negotiate(kBit30, kProtoConfigBit);
  f.req("GET_CONFIG", ConfigValue{0, 40, 0, {}});
  ConfigValue cfg{0, 40, 0, std::vector<uint8_t>(40, 0)};
  const std::string tag = "myfs";
  std::copy(tag.begin(), tag.end(), cfg.data.begin());
  cfg.data[36] = 1;  // one request queue
  f.reply("GET_CONFIG", cfg);
  EXPECT_EQ(f.analyser.state().device, DeviceKind::Fs);
  EXPECT_EQ(f.analyser.decode_context().device, DeviceKind::Fs);
  ASSERT_TRUE(f.analyser.state().config.has_value());
  EXPECT_EQ(f.analyser.state().config->size, 40u);

  Feeder forced(SessionAnalyser::Options{DeviceKind::Net, true});
  forced.negotiate(kBit30, kProtoConfigBit);
  forced.req("GET_CONFIG", ConfigValue{0, 40, 0, {}});
  forced.reply("GET_CONFIG", cfg);
  EXPECT_EQ(forced.analyser.state().device, DeviceKind::Net);
  EXPECT_TRUE(forced.analyser.state().device_from_user);
}

TEST(SessionState, StatusInflightAndLog) {
  Feeder f;
  f.negotiate(kBit30, (uint64_t{1} << 16) | (uint64_t{1} << 12) | 2);
  f.req("SET_STATUS", U64Value{0xf});
  f.req("GET_STATUS");
  f.reply("GET_STATUS", U64Value{0xb});
  f.req("GET_INFLIGHT_FD", InflightValue{0, 0, 1, 128});
  f.feed(make("GET_INFLIGHT_FD", kReply, InflightValue{4160, 0, 1, 128}), {memfd(4160, 77)});
  const SessionState& s = f.analyser.state();
  EXPECT_EQ(s.status_set, 0xf);
  EXPECT_EQ(s.status_read, 0xb);
  ASSERT_TRUE(s.inflight.received.has_value());
  EXPECT_EQ(s.inflight.received->mmap_size, 4160u);
  EXPECT_TRUE(s.inflight.has_fd);
  EXPECT_EQ(s.inflight.fd.inode, 77u);
  EXPECT_EQ(s.inflight.requested->queue_size, 128u);
}

}  // namespace
}  // namespace vhs
