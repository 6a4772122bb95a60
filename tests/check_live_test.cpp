// `record --check`: the live checker prints each violation as soon as the record that shows it is
// relayed, numbered like the capture, and the ones found only at the end when the session ends.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "app/common/live_check.hpp"
#include "support/message_builder.hpp"

namespace vhs {
namespace {

struct Feed {
  std::vector<std::string> lines;
  LiveCheck check{[this](const std::string& line) { lines.push_back(line); }};
  uint64_t now = 1'000'000'000;

  void record(RecordKind kind, Channel channel, Direction direction, std::vector<uint8_t> bytes,
              std::vector<FdInfo> fds = {}, uint16_t flags = 0) {
    Record r;
    r.kind = kind;
    r.channel = channel;
    r.direction = direction;
    r.session = 1;
    r.flags = flags;
    r.timestamp_ns = now += 1000;
    r.bytes = std::move(bytes);
    r.fds = std::move(fds);
    check.on_record(r);
  }
  void request(std::string_view name, std::vector<uint8_t> payload = {}) {
    record(RecordKind::Message, Channel::Frontend, Direction::ToBackend,
           test::request(name, payload));
  }
  void reply(std::string_view name, std::vector<uint8_t> payload = {}) {
    record(RecordKind::Message, Channel::Frontend, Direction::ToFrontend,
           test::reply(name, payload));
  }
};

TEST(CheckLive, PrintsEachViolationWhenItsRecordArrives) {
  Feed f;
  f.record(RecordKind::Connect, Channel::Frontend, Direction::ToBackend, {'h', 'i'});  // #1
  f.request("GET_FEATURES");                                                           // #2
  f.reply("GET_FEATURES", test::u64_payload(uint64_t{1} << 32));                       // #3
  EXPECT_TRUE(f.lines.empty());
  f.request("SET_FEATURES", test::u64_payload((uint64_t{1} << 32) | (uint64_t{1} << 34)));  // #4
  ASSERT_EQ(f.lines.size(), 1u);
  EXPECT_EQ(f.lines[0].rfind("check s1 VU-NEG-002 front-end #4: SET_FEATURES acks", 0), 0u)
      << f.lines[0];
  EXPECT_NE(f.lines[0].find("(spec \"Front-end message types\")"), std::string::npos);
  EXPECT_EQ(f.check.violations(), 1u);
}

TEST(CheckLive, ReportsAtSessionEndWhatOnlyTheEndShows) {
  Feed f;
  const uint64_t features = (uint64_t{1} << 32) | (uint64_t{1} << 30);
  const uint64_t protocol = feature_mask(ProtocolFeature::LOG_SHMFD);
  f.record(RecordKind::Connect, Channel::Frontend, Direction::ToBackend, {});  // #1
  f.request("GET_FEATURES");                                                   // #2
  f.reply("GET_FEATURES", test::u64_payload(features));                        // #3
  f.request("GET_PROTOCOL_FEATURES");                                          // #4
  f.reply("GET_PROTOCOL_FEATURES", test::u64_payload(protocol));               // #5
  f.request("SET_PROTOCOL_FEATURES", test::u64_payload(protocol));             // #6
  f.request("SET_OWNER");                                                      // #7
  f.request("SET_FEATURES", test::u64_payload(features));                      // #8
  std::vector<uint8_t> log(16, 0);
  f.record(RecordKind::Message, Channel::Frontend, Direction::ToBackend,
           test::request("SET_LOG_BASE", log), {{FdKind::Memfd, 1, 4096, "memfd:log"}});  // #9
  EXPECT_TRUE(f.lines.empty());
  f.record(RecordKind::Disconnect, Channel::Frontend, Direction::ToBackend, {}, {},
           kRecordClosedByProxy);  // #10
  ASSERT_EQ(f.lines.size(), 1u);
  EXPECT_EQ(f.lines[0].rfind("check s1 VU-LOG-002 back-end #9: SET_LOG_BASE was never answered", 0),
            0u)
      << f.lines[0];
}

}  // namespace
}  // namespace vhs
