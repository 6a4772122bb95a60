// Selection navigation of the GUI's message list (app/common/view_navigation): row and page
// moves over filtered rows (also from a selection the filter hides), request <-> reply jumps and
// stepping through findings with wrap-around.
#include <gtest/gtest.h>

#include <vector>

#include "app/common/view_navigation.hpp"
#include "captures/model/store.hpp"
#include "support/message_builder.hpp"

namespace vhs {
namespace {

using view::kNoSelection;
using view::NavKey;

const std::vector<uint32_t> kRows = {2, 5, 9, 14, 20, 31};

TEST(Navigate, RowsAndPages) {
  EXPECT_EQ(view::navigate(kRows, 9, NavKey::Down, 3), 14u);
  EXPECT_EQ(view::navigate(kRows, 9, NavKey::Up, 3), 5u);
  EXPECT_EQ(view::navigate(kRows, 9, NavKey::PageDown, 3), 31u);
  EXPECT_EQ(view::navigate(kRows, 9, NavKey::PageUp, 3), 2u);  // clamped at the top
  EXPECT_EQ(view::navigate(kRows, 14, NavKey::PageUp, 2), 5u);
  EXPECT_EQ(view::navigate(kRows, 9, NavKey::Home, 3), 2u);
  EXPECT_EQ(view::navigate(kRows, 9, NavKey::End, 3), 31u);
}

TEST(Navigate, StopsAtTheEnds) {
  EXPECT_EQ(view::navigate(kRows, 31, NavKey::Down, 3), 31u);
  EXPECT_EQ(view::navigate(kRows, 2, NavKey::Up, 3), 2u);
  EXPECT_EQ(view::navigate(kRows, 31, NavKey::PageDown, 3), 31u);
}

TEST(Navigate, NothingSelected) {
  EXPECT_EQ(view::navigate(kRows, kNoSelection, NavKey::Down, 3), 2u);
  EXPECT_EQ(view::navigate(kRows, kNoSelection, NavKey::Up, 3), 2u);
  EXPECT_EQ(view::navigate(kRows, kNoSelection, NavKey::End, 3), 31u);
  EXPECT_EQ(view::navigate({}, 4, NavKey::Down, 3), kNoSelection);
}

// The selection stays on an entry the filter now hides: moves continue from where it was.
TEST(Navigate, FromAHiddenSelection) {
  EXPECT_EQ(view::navigate(kRows, 10, NavKey::Down, 3), 14u);
  EXPECT_EQ(view::navigate(kRows, 10, NavKey::Up, 3), 9u);
  EXPECT_EQ(view::navigate(kRows, 10, NavKey::PageDown, 3), 31u);
  EXPECT_EQ(view::navigate(kRows, 10, NavKey::PageUp, 2), 5u);
  EXPECT_EQ(view::navigate(kRows, 1, NavKey::Up, 3), 2u);
  EXPECT_EQ(view::navigate(kRows, 40, NavKey::Down, 3), 31u);
  EXPECT_EQ(view::navigate(kRows, 40, NavKey::Up, 3), 31u);
}

TEST(ScrollToShow, KeepsTheRowInView) {
  EXPECT_EQ(view::scroll_to_show(5, 0, 10), 0u);   // visible: unchanged
  EXPECT_EQ(view::scroll_to_show(12, 0, 10), 3u);  // below: becomes the last visible row
  EXPECT_EQ(view::scroll_to_show(2, 7, 10), 2u);   // above: becomes the first
  EXPECT_EQ(view::scroll_to_show(4, 0, 0), 4u);
}

Record rec(test::Bytes bytes, Direction dir, uint64_t t) {
  Record r;
  r.direction = dir;
  r.session = 1;
  r.timestamp_ns = t;
  r.bytes = std::move(bytes);
  return r;
}

// 0 GET_FEATURES, 1 reply, 2 SET_FEATURES (need reply), 3 ack, 4 GET_VRING_BASE (never answered),
// 5 4-byte SET_VRING_NUM (size-mismatch), 6 SET_OWNER
class PairingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto F = Direction::ToBackend, B = Direction::ToFrontend;
    store.append(rec(test::request("GET_FEATURES"), F, 10));
    store.append(rec(test::reply("GET_FEATURES", test::u64_payload(1ull << 32)), B, 20));
    store.append(rec(test::request("SET_FEATURES", test::u64_payload(1ull << 32), true), F, 30));
    store.append(rec(test::reply("SET_FEATURES", test::u64_payload(0)), B, 40));
    store.append(rec(test::request("GET_VRING_BASE", test::vring_state(0, 0)), F, 50));
    test::Bytes bad = test::request("SET_VRING_NUM", test::u64_payload(0));
    bad.resize(bad.size() - 4);
    bad[8] = 4;
    store.append(rec(bad, F, 60));
    store.append(rec(test::request("SET_OWNER"), F, 70));
    store.finish();
  }
  Store store;
};

TEST_F(PairingTest, PeersBothWays) {
  EXPECT_EQ(view::peer_of(store, 0), 1u);
  EXPECT_EQ(view::peer_of(store, 1), 0u);
  EXPECT_EQ(view::peer_of(store, 2), 3u);  // NEED_REPLY ack
  EXPECT_EQ(view::peer_of(store, 3), 2u);
  EXPECT_EQ(view::peer_of(store, 4), kNoSelection);  // unanswered
  EXPECT_EQ(view::peer_of(store, 6), kNoSelection);  // no reply expected
  EXPECT_EQ(view::peer_of(store, kNoSelection), kNoSelection);
  EXPECT_EQ(view::peer_of(store, 99), kNoSelection);
}

TEST_F(PairingTest, StepThroughFindings) {
  // GET_VRING_BASE (unanswered) and the short SET_VRING_NUM carry findings.
  ASSERT_EQ(std::vector<uint32_t>(store.flagged().begin(), store.flagged().end()),
            (std::vector<uint32_t>{4, 5}));
  const std::vector<uint32_t> all = {0, 1, 2, 3, 4, 5, 6};
  EXPECT_EQ(view::step_finding(store, all, kNoSelection, true), 4u);
  EXPECT_EQ(view::step_finding(store, all, 0, true), 4u);
  EXPECT_EQ(view::step_finding(store, all, 4, true), 5u);
  EXPECT_EQ(view::step_finding(store, all, 5, true), 4u);  // wraps
  EXPECT_EQ(view::step_finding(store, all, 6, false), 5u);
  EXPECT_EQ(view::step_finding(store, all, 5, false), 4u);
  EXPECT_EQ(view::step_finding(store, all, 4, false), 5u);  // wraps backwards
  EXPECT_EQ(view::step_finding(store, all, kNoSelection, false), 5u);
}

TEST_F(PairingTest, FindingStepsSkipFilteredRows) {
  const std::vector<uint32_t> without_4 = {0, 1, 2, 3, 5, 6};
  EXPECT_EQ(view::step_finding(store, without_4, 0, true), 5u);
  EXPECT_EQ(view::step_finding(store, without_4, 5, true), 5u);  // the only visible one
  const std::vector<uint32_t> none = {0, 1, 2};
  EXPECT_EQ(view::step_finding(store, none, 0, true), kNoSelection);
}

}  // namespace
}  // namespace vhs
