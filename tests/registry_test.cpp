// Invariants of the request registry: complete numbering per channel, unique names, lookups by
// any spelling, documented payload sizes and decoders for every kind, and the spec's special cases.
#include <gtest/gtest.h>

#include <cctype>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "decoders/vhost_user/features.hpp"
#include "decoders/vhost_user/payload_decoders.hpp"
#include "decoders/vhost_user/payload_layout.hpp"
#include "decoders/vhost_user/registry.hpp"

namespace vhs {
namespace {

TEST(Registry, FrontendNumbersAreExactlyOneToFortyFour) {
  std::set<uint32_t> seen;
  for (const RequestInfo& r : all_requests()) {
    if (r.channel != Channel::Frontend) continue;
    EXPECT_TRUE(seen.insert(r.number).second) << "duplicate front-end number " << r.number;
  }
  EXPECT_EQ(seen.size(), 44u);
  for (uint32_t n = 1; n <= 44; ++n) {
    EXPECT_TRUE(seen.count(n)) << n;
  }
}

TEST(Registry, BackendNumbersAreExactlyOneToTen) {
  std::set<uint32_t> seen;
  for (const RequestInfo& r : all_requests()) {
    if (r.channel != Channel::Backend) continue;
    EXPECT_TRUE(seen.insert(r.number).second) << "duplicate back-end number " << r.number;
  }
  EXPECT_EQ(seen.size(), 10u);
  for (uint32_t n = 1; n <= 10; ++n) {
    EXPECT_TRUE(seen.count(n)) << n;
  }
  EXPECT_EQ(all_requests().size(), 54u);
}

// Transcribed independently from the spec tables (spec "Front-end message types" and "Back-end
// message types").
TEST(Registry, NumbersMatchTheSpec) {
  const std::vector<std::pair<uint32_t, const char*>> frontend = {{1, "GET_FEATURES"},
                                                                  {2, "SET_FEATURES"},
                                                                  {3, "SET_OWNER"},
                                                                  {4, "RESET_OWNER"},
                                                                  {5, "SET_MEM_TABLE"},
                                                                  {6, "SET_LOG_BASE"},
                                                                  {7, "SET_LOG_FD"},
                                                                  {8, "SET_VRING_NUM"},
                                                                  {9, "SET_VRING_ADDR"},
                                                                  {10, "SET_VRING_BASE"},
                                                                  {11, "GET_VRING_BASE"},
                                                                  {12, "SET_VRING_KICK"},
                                                                  {13, "SET_VRING_CALL"},
                                                                  {14, "SET_VRING_ERR"},
                                                                  {15, "GET_PROTOCOL_FEATURES"},
                                                                  {16, "SET_PROTOCOL_FEATURES"},
                                                                  {17, "GET_QUEUE_NUM"},
                                                                  {18, "SET_VRING_ENABLE"},
                                                                  {19, "SEND_RARP"},
                                                                  {20, "NET_SET_MTU"},
                                                                  {21, "SET_BACKEND_REQ_FD"},
                                                                  {22, "IOTLB_MSG"},
                                                                  {23, "SET_VRING_ENDIAN"},
                                                                  {24, "GET_CONFIG"},
                                                                  {25, "SET_CONFIG"},
                                                                  {26, "CREATE_CRYPTO_SESSION"},
                                                                  {27, "CLOSE_CRYPTO_SESSION"},
                                                                  {28, "POSTCOPY_ADVISE"},
                                                                  {29, "POSTCOPY_LISTEN"},
                                                                  {30, "POSTCOPY_END"},
                                                                  {31, "GET_INFLIGHT_FD"},
                                                                  {32, "SET_INFLIGHT_FD"},
                                                                  {33, "GPU_SET_SOCKET"},
                                                                  {34, "RESET_DEVICE"},
                                                                  {35, "VRING_KICK"},
                                                                  {36, "GET_MAX_MEM_SLOTS"},
                                                                  {37, "ADD_MEM_REG"},
                                                                  {38, "REM_MEM_REG"},
                                                                  {39, "SET_STATUS"},
                                                                  {40, "GET_STATUS"},
                                                                  {41, "GET_SHARED_OBJECT"},
                                                                  {42, "SET_DEVICE_STATE_FD"},
                                                                  {43, "CHECK_DEVICE_STATE"},
                                                                  {44, "GET_SHMEM_CONFIG"}};
  for (auto [n, name] : frontend) {
    const RequestInfo* r = find_request(Channel::Frontend, n);
    ASSERT_NE(r, nullptr) << n;
    EXPECT_EQ(r->name, name);
  }
  const std::vector<std::pair<uint32_t, const char*>> backend = {
      {1, "BACKEND_IOTLB_MSG"},
      {2, "BACKEND_CONFIG_CHANGE_MSG"},
      {3, "BACKEND_VRING_HOST_NOTIFIER_MSG"},
      {4, "BACKEND_VRING_CALL"},
      {5, "BACKEND_VRING_ERR"},
      {6, "BACKEND_SHARED_OBJECT_ADD"},
      {7, "BACKEND_SHARED_OBJECT_REMOVE"},
      {8, "BACKEND_SHARED_OBJECT_LOOKUP"},
      {9, "BACKEND_SHMEM_MAP"},
      {10, "BACKEND_SHMEM_UNMAP"}};
  for (auto [n, name] : backend) {
    const RequestInfo* r = find_request(Channel::Backend, n);
    ASSERT_NE(r, nullptr) << n;
    EXPECT_EQ(r->name, name);
  }
}

TEST(Registry, OutOfRangeNumbersAreUnknown) {
  EXPECT_EQ(find_request(Channel::Frontend, 0), nullptr);  // VHOST_USER_NONE
  EXPECT_EQ(find_request(Channel::Frontend, 45), nullptr);
  EXPECT_EQ(find_request(Channel::Frontend, 99), nullptr);
  EXPECT_EQ(find_request(Channel::Frontend, 0xffffffffu), nullptr);
  EXPECT_EQ(find_request(Channel::Backend, 0), nullptr);
  EXPECT_EQ(find_request(Channel::Backend, 11), nullptr);  // MEM_READ: proposal only
  EXPECT_EQ(find_request(Channel::Backend, 99), nullptr);
}

TEST(Registry, NamesAndOldNamesAreUniqueAndResolve) {
  std::set<std::string> names;
  for (const RequestInfo& r : all_requests()) {
    EXPECT_TRUE(names.insert(std::string(r.name)).second) << r.name;
    if (!r.old_name.empty()) {
      EXPECT_TRUE(names.insert(std::string(r.old_name)).second) << r.old_name;
    }
    EXPECT_FALSE(r.meaning.empty()) << r.name;
    EXPECT_EQ(r.name.find("VHOST_USER_"), std::string_view::npos) << r.name;

    EXPECT_EQ(find_request_by_name(r.name), &r);
    EXPECT_EQ(find_request_by_name("VHOST_USER_" + std::string(r.name)), &r);
    std::string lower(r.name);
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    EXPECT_EQ(find_request_by_name(lower), &r);
    if (!r.old_name.empty()) {
      EXPECT_EQ(find_request_by_name(r.old_name), &r);
      EXPECT_EQ(find_request_by_name("VHOST_USER_" + std::string(r.old_name)), &r);
    }
  }
  EXPECT_EQ(find_request_by_name(""), nullptr);
  EXPECT_EQ(find_request_by_name("VHOST_USER_"), nullptr);
  EXPECT_EQ(find_request_by_name("NOT_A_REQUEST"), nullptr);
  EXPECT_EQ(find_request_by_name("GET_FEATURE"), nullptr);
}

TEST(Registry, OldSlaveNamesAlias) {
  const RequestInfo* r = find_request_by_name("VHOST_USER_SET_SLAVE_REQ_FD");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->number, 21u);
  EXPECT_EQ(r->name, "SET_BACKEND_REQ_FD");
  r = find_request_by_name("SLAVE_VRING_HOST_NOTIFIER_MSG");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->channel, Channel::Backend);
  EXPECT_EQ(r->number, 3u);
  r = find_request_by_name("slave_iotlb_msg");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->number, 1u);
}

// Which variant alternative each payload kind must decode into.
size_t expected_alternative(PayloadKind k) {
  switch (k) {
    case PayloadKind::None: return 0;
    case PayloadKind::U64:
    case PayloadKind::Features:
    case PayloadKind::ProtocolFeatures:
    case PayloadKind::Ack:
    case PayloadKind::Mac:
    case PayloadKind::Status: return 1;
    case PayloadKind::VringIndexFd: return 2;
    case PayloadKind::VringState: return 3;
    case PayloadKind::VringAddr: return 4;
    case PayloadKind::MemTable: return 5;
    case PayloadKind::SingleRegion: return 6;
    case PayloadKind::Log: return 7;
    case PayloadKind::Iotlb: return 8;
    case PayloadKind::Config: return 9;
    case PayloadKind::VringArea: return 10;
    case PayloadKind::Inflight: return 11;
    case PayloadKind::SharedObject: return 12;
    case PayloadKind::DeviceStateParams: return 13;
    case PayloadKind::DeviceStateResult: return 14;
    case PayloadKind::ShmemMap: return 15;
    case PayloadKind::ShmemConfig: return 16;
    case PayloadKind::Opaque: return 17;
  }
  return 99;
}

// Spec sizes (spec "Message Specification"), written down here independently of payload_layout.cpp.
uint32_t spec_min_size(PayloadKind k) {
  switch (k) {
    case PayloadKind::None: return 0;
    case PayloadKind::VringAddr: return 40;
    case PayloadKind::MemTable: return 8;
    case PayloadKind::SingleRegion: return 40;
    case PayloadKind::Log: return 16;
    case PayloadKind::Iotlb: return 32;
    case PayloadKind::Config: return 12;
    case PayloadKind::VringArea: return 24;
    case PayloadKind::Inflight: return 24;
    case PayloadKind::SharedObject: return 16;
    case PayloadKind::ShmemMap: return 40;
    case PayloadKind::ShmemConfig: return 8;
    case PayloadKind::Opaque: return 0;
    default: return 8;  // every u64 form, vring state, device state params/result
  }
}

TEST(Registry, EveryUsedPayloadKindHasASizeAndADecoder) {
  std::set<PayloadKind> used;
  for (const RequestInfo& r : all_requests()) {
    used.insert(r.payload);
    used.insert(r.reply_payload);
  }
  for (PayloadKind k : used) {
    SCOPED_TRACE(std::string(payload_kind_name(k)));
    const PayloadSizeRule rule = payload_size_rule(k);
    EXPECT_EQ(rule.any_size, k == PayloadKind::Opaque);
    EXPECT_EQ(rule.base, spec_min_size(k));
    EXPECT_TRUE(rule.accepts(spec_min_size(k)));
    EXPECT_NE(payload_kind_name(k), "unknown");
    std::vector<uint8_t> zeros(rule.base + rule.element, 0);
    std::vector<Finding> findings;
    const Payload p = decode_payload(k, zeros, static_cast<uint32_t>(zeros.size()), {}, findings);
    EXPECT_EQ(p.index(), expected_alternative(k));
  }
  EXPECT_TRUE(payload_size_rule(PayloadKind::MemTable).accepts(8 + 32 * 8));
  EXPECT_FALSE(payload_size_rule(PayloadKind::MemTable).accepts(8 + 33));
  EXPECT_TRUE(payload_size_rule(PayloadKind::MemTable, true).accepts(8 + 40 * 2));
  EXPECT_EQ(payload_size_rule(PayloadKind::SingleRegion, true).base, 48u);
  EXPECT_EQ(payload_size_rule(PayloadKind::MemTable).text(), "8 + 32*n");
  EXPECT_EQ(payload_size_rule(PayloadKind::Config).text(), "12 + n");
  EXPECT_EQ(payload_size_rule(PayloadKind::VringAddr).text(), "40");
}

TEST(Registry, ReplyRulesAreConsistent) {
  for (const RequestInfo& r : all_requests()) {
    SCOPED_TRACE(std::string(r.name));
    if (r.reply == ReplyRule::AckIfNeedReply) {
      EXPECT_EQ(r.reply_payload, PayloadKind::Ack);
      EXPECT_EQ(r.reply_fds, FdRule::None);
    }
    if (r.frontend_waits) {
      EXPECT_NE(r.reply, ReplyRule::AckIfNeedReply);
    }
    if (r.channel == Channel::Backend) {
      EXPECT_EQ(r.category, Category::BackendChannel);
    }
    if (r.gate) {
      EXPECT_FALSE(protocol_feature_name(*r.gate).empty());
    }
    EXPECT_NE(category_name(r.category), "unknown");
  }
}

TEST(Registry, SpecialCases) {
  auto get = [](const char* name) {
    const RequestInfo* r = find_request_by_name(name);
    EXPECT_NE(r, nullptr) << name;
    return r;
  };
  EXPECT_EQ(get("GET_VRING_BASE")->reply_payload, PayloadKind::VringState);
  EXPECT_EQ(get("GET_VRING_BASE")->reply, ReplyRule::Always);
  EXPECT_EQ(get("GET_CONFIG")->reply_payload, PayloadKind::Config);
  EXPECT_EQ(get("GET_INFLIGHT_FD")->reply_payload, PayloadKind::Inflight);
  EXPECT_EQ(get("GET_INFLIGHT_FD")->reply_fds, FdRule::OneIfMmapSize);
  EXPECT_EQ(get("POSTCOPY_ADVISE")->reply_payload, PayloadKind::None);
  EXPECT_EQ(get("POSTCOPY_ADVISE")->reply_fds, FdRule::One);
  EXPECT_EQ(get("SET_DEVICE_STATE_FD")->fds, FdRule::One);
  EXPECT_EQ(get("SET_DEVICE_STATE_FD")->reply_payload, PayloadKind::DeviceStateResult);
  EXPECT_EQ(get("SET_DEVICE_STATE_FD")->reply_fds, FdRule::OneUnlessNoFdBit);
  EXPECT_EQ(get("BACKEND_SHARED_OBJECT_LOOKUP")->reply, ReplyRule::Always);
  EXPECT_EQ(get("BACKEND_SHARED_OBJECT_LOOKUP")->reply_payload, PayloadKind::Ack);
  EXPECT_EQ(get("BACKEND_SHARED_OBJECT_LOOKUP")->reply_fds, FdRule::OneOnSuccess);
  EXPECT_EQ(get("GET_SHARED_OBJECT")->reply_fds, FdRule::OneOnSuccess);
  EXPECT_EQ(get("SET_LOG_BASE")->fds, FdRule::OneIfLogShmfd);
  EXPECT_EQ(get("SET_LOG_BASE")->reply, ReplyRule::IfLogShmfd);
  EXPECT_EQ(get("SET_MEM_TABLE")->fds, FdRule::OnePerRegion);
  EXPECT_EQ(get("REM_MEM_REG")->fds, FdRule::ZeroOrOne);
  EXPECT_EQ(get("SET_VRING_CALL")->fds, FdRule::OneUnlessNofd);
  EXPECT_EQ(get("BACKEND_VRING_HOST_NOTIFIER_MSG")->fds, FdRule::OneUnlessNofd);
  EXPECT_EQ(get("BACKEND_SHMEM_MAP")->fds, FdRule::One);
  EXPECT_EQ(get("GET_FEATURES")->reply_payload, PayloadKind::Features);
  EXPECT_EQ(get("GET_PROTOCOL_FEATURES")->reply_payload, PayloadKind::ProtocolFeatures);
  EXPECT_EQ(get("GET_STATUS")->reply_payload, PayloadKind::Status);
  EXPECT_EQ(get("GET_SHMEM_CONFIG")->reply_payload, PayloadKind::ShmemConfig);
  EXPECT_EQ(get("GET_QUEUE_NUM")->gate, ProtocolFeature::MQ);
  EXPECT_EQ(get("SET_BACKEND_REQ_FD")->gate, ProtocolFeature::BACKEND_REQ);
  EXPECT_EQ(get("GET_CONFIG")->gate, ProtocolFeature::CONFIG);
  EXPECT_EQ(get("ADD_MEM_REG")->gate, ProtocolFeature::CONFIGURE_MEM_SLOTS);
  EXPECT_EQ(get("GET_FEATURES")->gate, std::nullopt);
  EXPECT_TRUE(get("GET_VRING_BASE")->frontend_waits);
  EXPECT_FALSE(get("SET_VRING_CALL")->frontend_waits);
}

TEST(Registry, KindAndCategoryNames) {
  EXPECT_EQ(payload_kind_name(PayloadKind::MemTable), "mem-table");
  EXPECT_EQ(payload_kind_name(PayloadKind::VringAddr), "vring-addr");
  EXPECT_EQ(payload_kind_name(static_cast<PayloadKind>(200)), "unknown");
  EXPECT_EQ(category_name(Category::Vring), "vring");
  EXPECT_EQ(category_name(Category::BackendChannel), "backend-channel");
}

TEST(Registry, MessageLabelsNameRequestsRepliesAndUnknownNumbers) {
  EXPECT_EQ(message_label(Channel::Frontend, Header{5, kProtocolVersion, 0}), "SET_MEM_TABLE");
  EXPECT_EQ(message_label(Channel::Frontend, Header{1, kProtocolVersion | kFlagReply, 8}),
            "GET_FEATURES reply");
  // The same number names another request on the back-end channel.
  EXPECT_EQ(message_label(Channel::Backend, Header{1, kProtocolVersion, 0}), "BACKEND_IOTLB_MSG");
  EXPECT_EQ(message_label(Channel::Frontend, Header{99, kProtocolVersion | kFlagReply, 0}),
            "request 99 reply");
}

// The enumerators and the table come from one list: every enumerator names its own row, and the
// numbers are the wire codes the spec gives.
TEST(Registry, TypedRequestsNameTheirRows) {
  EXPECT_EQ(static_cast<uint32_t>(FrontendRequest::GET_FEATURES), 1u);
  EXPECT_EQ(static_cast<uint32_t>(FrontendRequest::SET_VRING_KICK), 12u);
  EXPECT_EQ(static_cast<uint32_t>(FrontendRequest::GET_SHMEM_CONFIG), 44u);
  EXPECT_EQ(static_cast<uint32_t>(BackendRequest::BACKEND_SHMEM_UNMAP), 10u);
  for (const RequestInfo& r : all_requests()) {
    const RequestInfo& row =
        r.channel == Channel::Frontend ? request_info(r.frontend()) : request_info(r.backend());
    EXPECT_EQ(&row, &r) << r.name;
    EXPECT_EQ(find_request(r.channel, r.number), &r) << r.name;
    EXPECT_EQ(find_request_by_name(r.name), &r) << r.name;
  }
  EXPECT_EQ(request_name(FrontendRequest::SET_BACKEND_REQ_FD), "SET_BACKEND_REQ_FD");
  EXPECT_EQ(request_info(BackendRequest::BACKEND_VRING_CALL).channel, Channel::Backend);
  EXPECT_TRUE(request_info(FrontendRequest::SET_MEM_TABLE).is(FrontendRequest::SET_MEM_TABLE));
  EXPECT_FALSE(request_info(BackendRequest::BACKEND_IOTLB_MSG).is(FrontendRequest::GET_FEATURES));
  EXPECT_FALSE(is_request(nullptr, FrontendRequest::GET_FEATURES));
}

// What each request's fds are for lives in the table (spec "Front-end message types").
TEST(Registry, FdRoles) {
  EXPECT_EQ(request_info(FrontendRequest::SET_MEM_TABLE).fd_role, FdRole::MemoryRegion);
  EXPECT_EQ(request_info(FrontendRequest::ADD_MEM_REG).fd_role, FdRole::MemoryRegion);
  EXPECT_EQ(request_info(FrontendRequest::REM_MEM_REG).fd_role, FdRole::MemoryRegionRemoved);
  EXPECT_EQ(request_info(FrontendRequest::SET_VRING_KICK).fd_role, FdRole::Kick);
  EXPECT_EQ(request_info(FrontendRequest::SET_VRING_CALL).fd_role, FdRole::Call);
  EXPECT_EQ(request_info(FrontendRequest::SET_VRING_ERR).fd_role, FdRole::Err);
  EXPECT_EQ(request_info(FrontendRequest::SET_LOG_BASE).fd_role, FdRole::LogBitmap);
  EXPECT_EQ(request_info(FrontendRequest::SET_LOG_FD).fd_role, FdRole::LogEventfd);
  EXPECT_EQ(request_info(FrontendRequest::SET_BACKEND_REQ_FD).fd_role, FdRole::BackendChannel);
  EXPECT_EQ(request_info(FrontendRequest::GET_INFLIGHT_FD).fd_role, FdRole::None);
  EXPECT_EQ(request_info(FrontendRequest::GET_INFLIGHT_FD).reply_fd_role, FdRole::Inflight);
  EXPECT_EQ(request_info(FrontendRequest::SET_INFLIGHT_FD).fd_role, FdRole::Inflight);
  EXPECT_EQ(request_info(FrontendRequest::SET_DEVICE_STATE_FD).reply_fd_role, FdRole::DeviceState);
  EXPECT_EQ(request_info(FrontendRequest::POSTCOPY_ADVISE).reply_fd_role, FdRole::Userfaultfd);
  EXPECT_EQ(request_info(BackendRequest::BACKEND_VRING_HOST_NOTIFIER_MSG).fd_role,
            FdRole::HostNotifier);
  EXPECT_EQ(request_info(FrontendRequest::GET_FEATURES).fd_role, FdRole::None);
  for (const RequestInfo& r : all_requests()) {
    EXPECT_EQ(r.fds == FdRule::None, r.fd_role == FdRole::None) << r.name;
    EXPECT_EQ(r.reply_fds == FdRule::None, r.reply_fd_role == FdRole::None) << r.name;
  }
}

// Every protocol feature bit the spec names has an enumerator and a name.
TEST(Registry, ProtocolFeatureBits) {
  EXPECT_EQ(static_cast<unsigned>(ProtocolFeature::REPLY_ACK), 3u);
  EXPECT_EQ(static_cast<unsigned>(ProtocolFeature::CONFIGURE_MEM_SLOTS), 15u);
  EXPECT_EQ(static_cast<unsigned>(ProtocolFeature::SHMEM), 20u);
  EXPECT_EQ(protocol_feature_name(ProtocolFeature::INBAND_NOTIFICATIONS), "INBAND_NOTIFICATIONS");
  for (unsigned bit = 0; bit <= 20; ++bit) EXPECT_FALSE(protocol_feature_name(bit).empty()) << bit;
  EXPECT_TRUE(has_feature(0x8, ProtocolFeature::REPLY_ACK));
  EXPECT_FALSE(has_feature(0x8, ProtocolFeature::MQ));
}

}  // namespace
}  // namespace vhs
