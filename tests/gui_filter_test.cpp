// The GUI's filter language (app/common/view_filter) and its incremental row index
// (view_index): parsing, error positions, evaluation against a store built from raw message
// bytes, cheap-first ordering, and volatile answers settling when replies and findings arrive.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "app/common/view_filter.hpp"
#include "app/common/view_index.hpp"
#include "captures/model/store.hpp"
#include "decoders/vhost_user/message.hpp"
#include "support/message_builder.hpp"

namespace vhs {
namespace {

using test::Bytes;

// The fixtures' captures end this long after their records (timestamps are a few ns): requests
// still waiting then have waited more than the reply timeout, so they are Unanswered errors, not
// "no reply yet".
constexpr uint64_t kCaptureEndNs = 60'000'000'000;

Record rec(Bytes bytes, Direction dir, uint64_t t, std::vector<FdInfo> fds = {},
           Channel ch = Channel::Frontend, uint32_t session = 1) {
  Record r;
  r.kind = RecordKind::Message;
  r.direction = dir;
  r.channel = ch;
  r.session = session;
  r.timestamp_ns = t;
  r.fds = std::move(fds);
  r.bytes = std::move(bytes);
  return r;
}

Record note(RecordKind kind, uint64_t t, std::string_view text, uint32_t session = 1) {
  Record r;
  r.kind = kind;
  r.session = session;
  r.timestamp_ns = t;
  r.bytes.assign(text.begin(), text.end());
  return r;
}

FdInfo eventfd() { return FdInfo{FdKind::Eventfd, 11, 0, "[eventfd]"}; }
FdInfo memfd() { return FdInfo{FdKind::Memfd, 12, 1u << 30, "memfd:pc.ram"}; }

constexpr auto F = Direction::ToBackend;
constexpr auto B = Direction::ToFrontend;
constexpr uint64_t kMs = 1'000'000;

// Entry indices of the scenario below (record numbers are these + 1).
enum : uint32_t {
  kConnect,
  kGetFeatures,
  kGetFeaturesReply,
  kSetFeatures,
  kMemTable,
  kNum0,
  kAddr1,
  kKick0,
  kCall1,
  kBadSize,
  kGetBase1,
  kGetBase1Reply,
  kGetBase0,
};

// A small session: negotiation, a memory table, vring setup on queues 0 and 1, one message with a
// wrong payload size, one GET_VRING_BASE answered after 7 ms and one never answered.
void fill(Store& s) {
  uint64_t t = 1'000 * kMs;
  s.append(note(RecordKind::Connect, t, "frontend connected"));
  s.append(rec(test::request("GET_FEATURES"), F, t += kMs));
  s.append(rec(test::reply("GET_FEATURES", test::u64_payload((1ull << 32) | (1ull << 30))), B,
               t += kMs));
  s.append(rec(test::request("SET_FEATURES", test::u64_payload(1ull << 32)), F, t += kMs));
  test::Region r{0, 1u << 30, 0x7f0000000000, 0};
  s.append(rec(test::request("SET_MEM_TABLE", test::mem_table({&r, 1})), F, t += kMs, {memfd()}));
  s.append(rec(test::request("SET_VRING_NUM", test::vring_state(0, 256)), F, t += kMs));
  s.append(rec(test::request("SET_VRING_ADDR", test::vring_addr(1, 0, 0x7f0000001000,
                                                                0x7f0000003000, 0x7f0000002000, 0)),
               F, t += kMs));
  s.append(rec(test::request("SET_VRING_KICK", test::vring_index_fd(0)), F, t += kMs, {eventfd()}));
  s.append(rec(test::request("SET_VRING_CALL", test::vring_index_fd(1)), F, t += kMs, {eventfd()}));
  Bytes short_num = test::request("SET_VRING_NUM", test::u64_payload(0));
  short_num.resize(short_num.size() - 4);  // 4-byte payload: size-mismatch
  short_num[8] = 4;
  s.append(rec(short_num, F, t += kMs));
  s.append(rec(test::request("GET_VRING_BASE", test::vring_state(1, 0)), F, t += kMs));
  s.append(rec(test::reply("GET_VRING_BASE", test::vring_state(1, 42)), B, t += 7 * kMs));
  s.append(rec(test::request("GET_VRING_BASE", test::vring_state(0, 0)), F, t += kMs));
}

std::vector<uint32_t> matching(const Store& s, std::string_view text) {
  view::FilterError err;
  auto f = view::Filter::parse(text, err);
  EXPECT_TRUE(f.has_value()) << text << ": " << err.message << " at " << err.position;
  std::vector<uint32_t> out;
  if (!f) return out;
  for (size_t i = 0; i < s.size(); ++i)
    if (f->matches(s, i)) out.push_back(static_cast<uint32_t>(i));
  return out;
}

view::FilterError parse_error(std::string_view text) {
  view::FilterError err;
  auto f = view::Filter::parse(text, err);
  EXPECT_FALSE(f.has_value()) << text << " parsed as " << (f ? f->describe() : "");
  return err;
}

class FilterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fill(store);
    store.finish(kCaptureEndNs);
  }
  Store store;
};

TEST_F(FilterTest, EmptyMatchesEverything) {
  EXPECT_EQ(matching(store, "").size(), store.size());
  EXPECT_EQ(matching(store, "   ").size(), store.size());
  view::FilterError err;
  EXPECT_TRUE(view::Filter::parse("", err)->match_all());
}

TEST_F(FilterTest, RequestNamesAndGlobs) {
  EXPECT_EQ(matching(store, "GET_VRING_BASE"),
            (std::vector<uint32_t>{kGetBase1, kGetBase1Reply, kGetBase0}));
  EXPECT_EQ(matching(store, "get_vring_base"), matching(store, "GET_VRING_BASE"));
  EXPECT_EQ(matching(store, "SET_VRING_*"),
            (std::vector<uint32_t>{kNum0, kAddr1, kKick0, kCall1, kBadSize}));
  EXPECT_EQ(matching(store, "*FEATURES"),
            (std::vector<uint32_t>{kGetFeatures, kGetFeaturesReply, kSetFeatures}));
}

TEST_F(FilterTest, OldAliasesNameTheSameRow) {
  view::FilterError err;
  auto a = view::Filter::parse("SET_SLAVE_REQ_FD", err);
  ASSERT_TRUE(a) << err.message;
  EXPECT_EQ(a->describe(), "SET_SLAVE_REQ_FD");
}

TEST_F(FilterTest, DirectionChannelRole) {
  EXPECT_EQ(matching(store, "be>fe"), (std::vector<uint32_t>{kGetFeaturesReply, kGetBase1Reply}));
  EXPECT_EQ(matching(store, "to:frontend"), matching(store, "be>fe"));
  EXPECT_EQ(matching(store, "reply"), (std::vector<uint32_t>{kGetFeaturesReply, kGetBase1Reply}));
  EXPECT_EQ(matching(store, "ch:be").size(), 0u);
  EXPECT_EQ(matching(store, "connect"), (std::vector<uint32_t>{kConnect}));
  // Connect records have the default direction; "request" only matches messages.
  EXPECT_EQ(matching(store, "request and fe>be").size(), 10u);
}

TEST_F(FilterTest, PayloadAliases) {
  EXPECT_EQ(matching(store, "vring.index == 1"),
            (std::vector<uint32_t>{kAddr1, kCall1, kGetBase1, kGetBase1Reply}));
  // The 4-byte SET_VRING_NUM decodes as far as it goes: index 0 from its first four bytes.
  EXPECT_EQ(matching(store, "queue == 0"),
            (std::vector<uint32_t>{kNum0, kKick0, kBadSize, kGetBase0}));
  EXPECT_EQ(matching(store, "num == 42"), (std::vector<uint32_t>{kGetBase1Reply}));
  EXPECT_EQ(matching(store, "num >= 256"), (std::vector<uint32_t>{kNum0}));
  EXPECT_EQ(matching(store, "nregions == 1"), (std::vector<uint32_t>{kMemTable}));
  EXPECT_EQ(matching(store, "features ~ VERSION_1"),
            (std::vector<uint32_t>{kGetFeaturesReply, kSetFeatures}));
  EXPECT_EQ(matching(store, "features ~ PROTOCOL_FEATURES"),
            (std::vector<uint32_t>{kGetFeaturesReply}));
  EXPECT_EQ(matching(store, "features ~ 0x40000000"), (std::vector<uint32_t>{kGetFeaturesReply}));
}

TEST_F(FilterTest, FieldTreePaths) {
  // Full path, dotted suffix, array indices ignored unless given.
  EXPECT_EQ(matching(store, "vring_addr.used_user_addr == 0x7f0000003000"),
            (std::vector<uint32_t>{kAddr1}));
  EXPECT_EQ(matching(store, "desc_user_addr > 0x7f0000000000"), (std::vector<uint32_t>{kAddr1}));
  EXPECT_EQ(matching(store, "guest_phys_addr == 0"), (std::vector<uint32_t>{kMemTable}));
  EXPECT_EQ(matching(store, "header.request == 5"), (std::vector<uint32_t>{kMemTable}));
  EXPECT_EQ(matching(store, "no_such_field == 3").size(), 0u);
  // Sizes with suffixes, text values, and ~ on text.
  EXPECT_EQ(matching(store, "memory_size == 1G"), (std::vector<uint32_t>{kMemTable}));
  EXPECT_EQ(matching(store, "region.memory_size >= 1024M"), (std::vector<uint32_t>{kMemTable}));
  EXPECT_EQ(matching(store, "flags ~ 0x4"),
            (std::vector<uint32_t>{kGetFeaturesReply, kGetBase1Reply}));  // REPLY bit
  EXPECT_EQ(matching(store, "header ~ \"GET_VRING_BASE reply\""),
            (std::vector<uint32_t>{kGetBase1Reply}));
}

TEST_F(FilterTest, EntryNumbersWithUnits) {
  EXPECT_EQ(matching(store, "latency > 5ms"), (std::vector<uint32_t>{kGetBase1, kGetBase1Reply}));
  EXPECT_EQ(matching(store, "latency > 5"), matching(store, "latency > 5ms"));  // unit-less = ms
  EXPECT_EQ(matching(store, "latency < 5000us"),
            (std::vector<uint32_t>{kGetFeatures, kGetFeaturesReply}));
  EXPECT_EQ(matching(store, "size == 40"), (std::vector<uint32_t>{kMemTable, kAddr1}));
  EXPECT_EQ(matching(store, "fds == 1"), (std::vector<uint32_t>{kMemTable, kKick0, kCall1}));
  EXPECT_EQ(matching(store, "entry == 1"), (std::vector<uint32_t>{kConnect}));  // record #1
  EXPECT_EQ(matching(store, "time < 1.5ms").size(), 2u);
  EXPECT_EQ(matching(store, "session:1").size(), store.size());
  EXPECT_EQ(matching(store, "name ~ VRING_B"),
            (std::vector<uint32_t>{kGetBase1, kGetBase1Reply, kGetBase0}));
}

TEST_F(FilterTest, Findings) {
  EXPECT_EQ(matching(store, "finding:size-mismatch"), (std::vector<uint32_t>{kBadSize}));
  EXPECT_EQ(matching(store, "finding:unanswered"), (std::vector<uint32_t>{kGetBase0}));
  EXPECT_EQ(matching(store, "unanswered"), (std::vector<uint32_t>{kGetBase0}));
  std::vector<uint32_t> flagged(store.flagged().begin(), store.flagged().end());
  EXPECT_EQ(matching(store, "finding"), flagged);
  // Queue 0 was started by its kick and never got a call fd (SET_VRING_CALL is for queue 1): an
  // info finding, raised when the session ends.
  EXPECT_EQ(flagged, (std::vector<uint32_t>{kKick0, kBadSize, kGetBase0}));
  EXPECT_EQ(matching(store, "finding:no-call-fd"), (std::vector<uint32_t>{kKick0}));
  EXPECT_EQ(matching(store, "error"), (std::vector<uint32_t>{kBadSize, kGetBase0}));
  // The short SET_VRING_NUM also has num 0: an invalid-field warning.
  EXPECT_EQ(matching(store, "warning"), (std::vector<uint32_t>{kBadSize}));
  EXPECT_EQ(matching(store, "finding:invalid-field"), (std::vector<uint32_t>{kBadSize}));
  EXPECT_EQ(matching(store, "finding:size-*"), (std::vector<uint32_t>{kBadSize}));
}

TEST_F(FilterTest, BooleanCombinations) {
  EXPECT_EQ(matching(store, "GET_VRING_BASE and not reply"),
            (std::vector<uint32_t>{kGetBase1, kGetBase0}));
  EXPECT_EQ(matching(store, "GET_VRING_BASE !reply"),
            matching(store, "GET_VRING_BASE and not reply"));
  EXPECT_EQ(matching(store, "SET_VRING_KICK || SET_VRING_CALL"),
            (std::vector<uint32_t>{kKick0, kCall1}));
  EXPECT_EQ(matching(store, "(SET_VRING_KICK or SET_VRING_CALL) and vring.index == 1"),
            (std::vector<uint32_t>{kCall1}));
  // and binds tighter than or
  EXPECT_EQ(matching(store, "SET_VRING_KICK or SET_VRING_CALL and queue == 0"),
            (std::vector<uint32_t>{kKick0}));
  EXPECT_EQ(matching(store, "not not connect"), (std::vector<uint32_t>{kConnect}));
}

TEST_F(FilterTest, CheapPredicatesAreOrderedFirst) {
  view::FilterError err;
  auto f = view::Filter::parse("desc_user_addr > 0 and vring.index == 1 and SET_VRING_ADDR", err);
  ASSERT_TRUE(f) << err.message;
  EXPECT_EQ(f->describe(), "(SET_VRING_ADDR and vring.index == 1 and vring.desc_addr > 0)");
  EXPECT_EQ(f->cost(), view::FilterCost::Fields);
  EXPECT_FALSE(f->is_volatile());
  auto g = view::Filter::parse("fe>be and not finding", err);
  ASSERT_TRUE(g);
  EXPECT_EQ(g->cost(), view::FilterCost::Entry);
  EXPECT_TRUE(g->is_volatile());
}

TEST(FilterParse, ErrorsCarryPositions) {
  auto e = parse_error("GET_FEATURES and vring.idx");
  EXPECT_EQ(e.position, 17u);
  EXPECT_NE(e.message.find("vring.idx"), std::string::npos);
  EXPECT_EQ(parse_error("SET_NOTHING").message,
            "unknown word 'SET_NOTHING' (not a request name or keyword; see help)");
  EXPECT_EQ(parse_error("finding:nope").message, "unknown finding id 'nope'");
  EXPECT_EQ(parse_error("(reply").position, 0u);
  EXPECT_EQ(parse_error("reply)").position, 5u);
  EXPECT_EQ(parse_error("latency > fast").position, 10u);
  EXPECT_EQ(parse_error("queue ==").position, 8u);
  EXPECT_EQ(parse_error("reply & ack").position, 6u);
  EXPECT_EQ(parse_error("name == \"x").position, 8u);
  EXPECT_EQ(parse_error("and reply").position, 0u);
  EXPECT_EQ(parse_error("cat:bogus").position, 0u);
  EXPECT_NE(parse_error("vring.index").message.find("compare it"), std::string::npos);
}

TEST(FilterParse, HelpListsEveryAlias) {
  EXPECT_GE(view::filter_help_lines().size(), 10u);
  bool vring = false;
  for (const auto& a : view::filter_aliases()) vring = vring || a.name.starts_with("vring.index");
  EXPECT_TRUE(vring);
}

// ---- FilteredIndex ----

view::Filter parsed(std::string_view text) {
  view::FilterError err;
  auto f = view::Filter::parse(text, err);
  EXPECT_TRUE(f) << err.message;
  return std::move(*f);
}

TEST_F(FilterTest, IndexScansInBudgetedSteps) {
  view::FilteredIndex idx;
  idx.set_filter(parsed("fe>be and request"));
  EXPECT_FALSE(idx.update(store, 5));
  EXPECT_EQ(idx.scanned(), 5u);
  EXPECT_EQ(idx.size(), 3u);  // GET_FEATURES, SET_FEATURES, SET_MEM_TABLE
  while (!idx.update(store, 5)) {
  }
  EXPECT_EQ(idx.scanned(), store.size());
  EXPECT_EQ(std::vector<uint32_t>(idx.rows().begin(), idx.rows().end()),
            matching(store, "fe>be and request"));
  EXPECT_EQ(idx.position_of(kMemTable), std::optional<size_t>(2));
  EXPECT_EQ(idx.position_of(kGetFeaturesReply), std::nullopt);
  EXPECT_EQ(idx.lower_bound(kGetFeaturesReply), 1u);
}

TEST(FilteredIndex, MatchAllFollowsAppends) {
  Store s;
  view::FilteredIndex idx;
  s.append(note(RecordKind::Connect, 1, "c"));
  EXPECT_TRUE(idx.update(s, 100));
  EXPECT_EQ(idx.size(), 1u);
  s.append(rec(test::request("GET_FEATURES"), F, 2));
  s.append(rec(test::reply("GET_FEATURES", test::u64_payload(1)), B, 3));
  EXPECT_TRUE(idx.update(s, 100));
  EXPECT_EQ(std::vector<uint32_t>(idx.rows().begin(), idx.rows().end()),
            (std::vector<uint32_t>{0, 1, 2}));
}

// An empty list says why: nothing recorded, still scanning, or the filter hides everything.
TEST(FilteredIndex, EmptyListSaysWhy) {
  Store s;
  view::FilteredIndex idx;
  idx.set_filter(parsed("SET_VRING_* and vring.index == 1"));
  EXPECT_EQ(idx.empty_hint(s), "No records yet.");
  s.append(note(RecordKind::Connect, 1, "c"));
  s.append(rec(test::request("GET_FEATURES"), F, 2));
  s.append(rec(test::reply("GET_FEATURES", test::u64_payload(1)), B, 3));
  EXPECT_FALSE(idx.update(s, 2));
  EXPECT_EQ(idx.empty_hint(s), "Filtering… no match in the first 2 of 3 records yet.");
  EXPECT_TRUE(idx.update(s, 2));
  EXPECT_EQ(idx.empty_hint(s),
            "No record matches the filter 'SET_VRING_* and vring.index == 1' (all 3 hidden). Edit "
            "it or clear it "
            "(Ctrl+F, Ctrl+A, Delete).");
  idx.set_filter(parsed("GET_FEATURES"));
  EXPECT_TRUE(idx.update(s, 10));
  EXPECT_EQ(idx.size(), 2u);
  EXPECT_EQ(idx.empty_hint(s), "");
}

// Live: a request first matches "unanswered", then its reply arrives and it must leave the list;
// a finding attributed later to an already-scanned entry must bring it in.
TEST(FilteredIndex, VolatileAnswersSettle) {
  Store s;
  view::FilteredIndex unanswered, flagged;
  unanswered.set_filter(parsed("unanswered"));
  flagged.set_filter(parsed("finding:unanswered"));
  s.append(note(RecordKind::Connect, 1, "c"));
  s.append(rec(test::request("GET_FEATURES"), F, 2));
  unanswered.update(s, 100);
  flagged.update(s, 100);
  EXPECT_EQ(std::vector<uint32_t>(unanswered.rows().begin(), unanswered.rows().end()),
            (std::vector<uint32_t>{1}));
  s.append(rec(test::reply("GET_FEATURES", test::u64_payload(1ull << 32)), B, 3));
  s.append(rec(test::request("GET_FEATURES"), F, 4));
  unanswered.update(s, 100);
  EXPECT_EQ(std::vector<uint32_t>(unanswered.rows().begin(), unanswered.rows().end()),
            (std::vector<uint32_t>{3}));
  flagged.update(s, 100);
  EXPECT_EQ(flagged.size(), 0u);
  s.finish(kCaptureEndNs);  // the second GET_FEATURES gets its first finding: Unanswered
  ASSERT_EQ(std::vector<uint32_t>(s.flagged().begin(), s.flagged().end()),
            (std::vector<uint32_t>{3}));
  flagged.update(s, 100);
  EXPECT_EQ(std::vector<uint32_t>(flagged.rows().begin(), flagged.rows().end()),
            (std::vector<uint32_t>{3}));
}

// An entry that already had a finding and gains another is not noticed by the cheap check (the
// flagged list does not change); invalidate() is the documented way, used after Store::finish().
TEST(FilteredIndex, InvalidateAfterFinishSeesExtraFindings) {
  Store s;
  view::FilteredIndex idx;
  idx.set_filter(parsed("finding:unanswered"));
  s.append(note(RecordKind::Connect, 1, "c"));
  s.append(rec(test::request("GET_FEATURES"), F, 2));
  s.append(rec(test::reply("GET_FEATURES", test::u64_payload(1)), B, 3));
  s.append(rec(test::request("GET_PROTOCOL_FEATURES"), F, 4));  // feature-not-negotiated at once
  idx.update(s, 100);
  s.finish(kCaptureEndNs);  // ... and Unanswered at the end
  idx.invalidate();
  idx.update(s, 100);
  EXPECT_EQ(std::vector<uint32_t>(idx.rows().begin(), idx.rows().end()),
            (std::vector<uint32_t>{3}));
}

TEST(FilteredIndex, SetFilterStartsOver) {
  Store s;
  s.append(note(RecordKind::Connect, 1, "c"));
  s.append(rec(test::request("GET_FEATURES"), F, 2));
  view::FilteredIndex idx;
  idx.update(s, 100);
  EXPECT_EQ(idx.size(), 2u);
  idx.set_filter(parsed("GET_FEATURES"));
  EXPECT_EQ(idx.size(), 0u);
  EXPECT_EQ(idx.scanned(), 0u);
  idx.update(s, 100);
  EXPECT_EQ(idx.size(), 1u);
}

TEST_F(FilterTest, TypedFieldValues) {
  // Addresses compare as numbers: hex and decimal literals name the same value.
  EXPECT_EQ(matching(store, "vring.used_addr == 0x7f0000003000"), (std::vector<uint32_t>{kAddr1}));
  EXPECT_EQ(matching(store, "vring.desc_addr == 139637976731648"), (std::vector<uint32_t>{kAddr1}));
  EXPECT_EQ(matching(store, "vring.desc_addr < 0x7f0000001000").size(), 0u);
  EXPECT_EQ(matching(store, "region[0].size == 1073741824"), (std::vector<uint32_t>{kMemTable}));
  EXPECT_EQ(matching(store, "region.size == 1G"), (std::vector<uint32_t>{kMemTable}));
  EXPECT_EQ(matching(store, "region[1].size == 1G").size(), 0u);  // only one region
  EXPECT_EQ(matching(store, "mem.nregions == 0x1"), matching(store, "mem.nregions == 1"));
  // The field tree's vring.num (a glob is a path, not the decoded alias) compares numerically.
  EXPECT_EQ(matching(store, "vring.nu* > 0x80"), (std::vector<uint32_t>{kNum0}));
  EXPECT_EQ(matching(store, "vring.nu* == 42"), (std::vector<uint32_t>{kGetBase1Reply}));
  EXPECT_EQ(matching(store, "vring.num == 256"), (std::vector<uint32_t>{kNum0}));
  EXPECT_EQ(matching(store, "vring.num > 0x80"), (std::vector<uint32_t>{kNum0}));
  // Enumerations by name (any case) or by number.
  EXPECT_EQ(matching(store, "header.request == SET_VRING_NUM"),
            (std::vector<uint32_t>{kNum0, kBadSize}));
  EXPECT_EQ(matching(store, "header.request == set_vring_num"),
            matching(store, "header.request == SET_VRING_NUM"));
  EXPECT_EQ(matching(store, "header.request == 8"), (std::vector<uint32_t>{kNum0, kBadSize}));
  EXPECT_EQ(matching(store, "features.bit == VERSION_1"),
            (std::vector<uint32_t>{kGetFeaturesReply, kSetFeatures}));
  EXPECT_EQ(matching(store, "features.bit[30] == PROTOCOL_FEATURES"),
            (std::vector<uint32_t>{kGetFeaturesReply}));
  EXPECT_EQ(matching(store, "fd == memfd"), (std::vector<uint32_t>{kMemTable}));
  EXPECT_EQ(matching(store, "fd ~ pc.ram"), (std::vector<uint32_t>{kMemTable}));
  // Bit words by the names of their bits; single bits as yes/no.
  EXPECT_EQ(matching(store, "header.flags ~ REPLY"),
            (std::vector<uint32_t>{kGetFeaturesReply, kGetBase1Reply}));
  EXPECT_EQ(matching(store, "flags ~ REPLY"), matching(store, "header.flags ~ REPLY"));
  EXPECT_EQ(matching(store, "header.flags.reply == yes"),
            (std::vector<uint32_t>{kGetFeaturesReply, kGetBase1Reply}));
  EXPECT_EQ(matching(store, "header.flags.need_reply == true").size(), 0u);
  EXPECT_EQ(matching(store, "vring.nofd == no"), (std::vector<uint32_t>{kKick0, kCall1}));
  // A rendering that is not a number is never read as one: mem.padding is bytes shown "0x0".
  EXPECT_EQ(matching(store, "mem.padding == 0").size(), 0u);
  EXPECT_EQ(matching(store, "mem.padding == \"0x0\""), (std::vector<uint32_t>{kMemTable}));
}

TEST(TypedFilter, RenderedTextsThatStartWithDigitsAreNotNumbers) {
  Store s;
  // SET_VRING_NUM with 4 bytes the layout does not explain ("12 34 56 78"), an IOTLB update and
  // a GET_CONFIG reply whose 2 data bytes render "60 61".
  Bytes num = test::vring_state(0, 256);
  for (uint8_t b : {0x12, 0x34, 0x56, 0x78}) num.push_back(b);
  s.append(rec(test::request("SET_VRING_NUM", num), F, 1));
  Bytes iotlb = test::u64_payload(0x1000);
  test::append(iotlb, test::u64_payload(0x2000));
  test::append(iotlb, test::u64_payload(0x7f00));
  for (uint8_t b : {3, 2, 0, 0, 0, 0, 0, 0}) iotlb.push_back(b);  // perm RW, type UPDATE
  s.append(rec(test::request("IOTLB_MSG", iotlb), F, 2));
  Bytes config = {0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0x60, 0x61};
  s.append(rec(test::reply("GET_CONFIG", config), B, 3));
  s.finish();

  EXPECT_EQ(matching(s, "vring.num == 256"), (std::vector<uint32_t>{0}));
  EXPECT_EQ(matching(s, "extra == 12").size(), 0u);
  EXPECT_EQ(matching(s, "extra > 5").size(), 0u);
  EXPECT_EQ(matching(s, "extra ~ \"34 56\""), (std::vector<uint32_t>{0}));
  EXPECT_EQ(matching(s, "extra == \"12 34 56 78\""), (std::vector<uint32_t>{0}));
  EXPECT_EQ(matching(s, "config.data > 5").size(), 0u);
  EXPECT_EQ(matching(s, "config.data == 60").size(), 0u);
  EXPECT_EQ(matching(s, "config.data == \"60 61\""), (std::vector<uint32_t>{2}));
  EXPECT_EQ(matching(s, "config.flags == FRONTEND"), (std::vector<uint32_t>{2}));
  EXPECT_EQ(matching(s, "iotlb.type == UPDATE"), (std::vector<uint32_t>{1}));
  EXPECT_EQ(matching(s, "iotlb.type == 2"), (std::vector<uint32_t>{1}));
  EXPECT_EQ(matching(s, "iotlb.type ~ UPD"), (std::vector<uint32_t>{1}));
  EXPECT_EQ(matching(s, "iotlb.perm != RW").size(), 0u);
  EXPECT_EQ(matching(s, "iotlb.size == 8K"), (std::vector<uint32_t>{1}));
  EXPECT_EQ(matching(s, "iotlb.iova >= 0x1000 and iotlb.iova < 4097"), (std::vector<uint32_t>{1}));
}

TEST(TypedFilter, TermsForTheDetailViewRoundTrip) {
  Store s;
  s.append(rec(
      test::request("SET_VRING_ADDR",
                    test::vring_addr(1, 1, 0x7f0000001000, 0x7f0000003000, 0x7f0000002000, 0x1000)),
      F, 1));
  s.append(rec(test::request("SET_VRING_KICK", test::vring_index_fd(1)), F, 2, {eventfd()}));
  s.finish();
  for (size_t i = 0; i < s.size(); ++i) {
    const DecodedMessage m = s.decoded(i);
    for (const Field& f : describe_fields(m, s.bytes(i), s.fds(i), s.context(i))) {
      const std::string term = view::filter_term(f);
      const auto hits = matching(s, term);
      EXPECT_NE(std::find(hits.begin(), hits.end(), i), hits.end()) << term;
    }
  }
  Field flags{"vring.flags", FieldValue::flags(1, "LOG"), "0x1 (LOG)", 16, 4, 0};
  EXPECT_EQ(view::filter_term(flags), "vring.flags == 0x1");
  Field nofd{"vring.nofd", FieldValue::boolean(false), "no", 13, 1, 1};
  EXPECT_EQ(view::filter_term(nofd), "vring.nofd == no");
  Field type{"iotlb.type", FieldValue::enumerated(2, "UPDATE"), "UPDATE (2)", 37, 1, 0};
  EXPECT_EQ(view::filter_term(type), "iotlb.type == UPDATE");
  Field num{"vring.num", FieldValue::unsigned_number(256), "256", 16, 4, 0};
  EXPECT_EQ(view::filter_term(num), "vring.num == 256");
}

TEST(TypedFilter, EarlierFieldNamesStillParse) {
  view::FilterError err;
  auto f = view::Filter::parse("vring_state.num == 1", err);
  ASSERT_TRUE(f.has_value()) << err.message;
  EXPECT_EQ(f->describe(), "vring.num == 1");  // the decoded alias again
  f = view::Filter::parse("mem_table.region[0].guest_phys_addr == 0", err);
  ASSERT_TRUE(f.has_value()) << err.message;
  EXPECT_EQ(f->describe(), "region[0].gpa == 0");
}

}  // namespace
}  // namespace vhs
