// The ring picture's view-model over the shipped hang capture: the stalled READ is in flight at
// its descriptor index with the hands at the recorded indexes, scrubbing to an earlier ring state
// moves them, chains are dated from the ring states that list them, and large rings fold without
// losing an in-flight cell. Also the statistics tables the GUI and `vhostscope stats` share.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "app/common/stats_format.hpp"
#include "app/common/view_ring_picture.hpp"
#include "app/common/view_stats.hpp"
#include "captures/format/capture_file.hpp"
#include "captures/model/store.hpp"

namespace vhs {
namespace {

using view::CellState;

Store shipped_hang() {
  Store store;
  std::string error;
  auto reader =
      CaptureReader::open(std::string(VHS_SOURCE_DIR) + "/captures/samples/blk-hang.pcap", error);
  EXPECT_TRUE(reader) << error;
  Record r;
  while (reader && reader->next(r)) store.append(r);
  store.finish();
  return store;
}

std::vector<uint32_t> all_ring_records(const Store& store) {
  std::vector<uint32_t> out;
  for (size_t i = 0; i < store.size(); ++i)
    if (store.entry(i).kind == RecordKind::RingState) out.push_back(static_cast<uint32_t>(i));
  return out;
}

size_t count(const std::vector<CellState>& cells, CellState s) {
  return static_cast<size_t>(std::count(cells.begin(), cells.end(), s));
}

class RingPictureTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(store.sessions().size(), 1u);
    states = view::session_ring_states(store, 0, all_ring_records(store));
  }
  Store store = shipped_hang();
  std::vector<uint32_t> states;
};

TEST_F(RingPictureTest, SessionRingStatesAreTheRingStateRecords) {
  // 31 RingState records (#30 ... #72), all of session 1.
  ASSERT_EQ(states.size(), 31u);
  EXPECT_EQ(states.front(), 29u);
  EXPECT_EQ(states.back(), 71u);
  EXPECT_TRUE(view::session_ring_states(store, 1, all_ring_records(store)).empty());
  // The scrubber position of a record: the last ring state at or before it.
  EXPECT_EQ(view::ring_state_at(states, 0), 0u);    // before any: the first
  EXPECT_EQ(view::ring_state_at(states, 29), 0u);   // #30 itself
  EXPECT_EQ(view::ring_state_at(states, 30), 0u);   // #31, a message after #30
  EXPECT_EQ(view::ring_state_at(states, 49), 8u);   // #50, after #30 #32 #33 #37 #45 ... #49
  EXPECT_EQ(view::ring_state_at(states, 73), 30u);  // #74, after the last: #72
  EXPECT_EQ(states[view::ring_state_at(states, 49)], 49u);
}

TEST_F(RingPictureTest, StalledReadIsInFlightAtItsDescriptorWithHandsAtTheIndexes) {
  const auto p = view::build_ring_picture(store, 0, states, states.size() - 1);
  EXPECT_EQ(p.entry, 71u);  // #72: the ring state the stall was found on
  ASSERT_EQ(p.queues.size(), 1u);
  const view::QueuePicture& q = p.queues[0];
  EXPECT_EQ(q.queue, 0u);
  EXPECT_EQ(q.entry, 71u);
  ASSERT_EQ(q.descriptors.size(), 128u);
  ASSERT_EQ(q.positions.size(), 128u);
  // avail 2565, used 2564: one buffer in flight, head 0 (READ sector 0 len 4096).
  EXPECT_EQ(q.snapshot.avail_idx, 2565u);
  EXPECT_EQ(q.snapshot.used_idx, 2564u);
  EXPECT_EQ(q.avail_hand, 2565u % 128);
  EXPECT_EQ(q.used_hand, 2564u % 128);
  EXPECT_EQ(q.descriptors[0], CellState::InFlight);
  EXPECT_EQ(count(q.descriptors, CellState::InFlight), 1u);
  EXPECT_EQ(count(q.descriptors, CellState::Free), 127u);
  // The avail ring entry between the used and the avail index is the one in flight.
  EXPECT_EQ(q.positions[2564 % 128], CellState::InFlight);
  EXPECT_EQ(count(q.positions, CellState::InFlight), 1u);
  // EVENT_IDX: used_event 2564 = used idx, nothing used and unconsumed.
  ASSERT_TRUE(q.used_unconsumed.has_value());
  EXPECT_EQ(*q.used_unconsumed, 0u);
  ASSERT_EQ(q.chains.size(), 1u);
  EXPECT_EQ(q.chains[0].head, 0u);
  EXPECT_TRUE(q.chains[0].fetched);
  EXPECT_EQ(q.chains[0].detail, "head 0: READ sector 0 len 4096");
  // #71 had nothing in flight: the READ is dated from #72 itself, exactly.
  EXPECT_EQ(q.chains[0].since_ns, store.entry(71).timestamp_ns);
  EXPECT_FALSE(q.chains[0].at_least);
  EXPECT_EQ(q.unlisted, 0u);
}

TEST_F(RingPictureTest, ScrubbingToAnEarlierRingStateMovesTheHands) {
  // #50: avail 6, used 5, used_event 5, head 0 READ sector 8 len 4096 in flight.
  const size_t at = view::ring_state_at(states, 49);
  const auto p = view::build_ring_picture(store, 0, states, at);
  EXPECT_EQ(p.entry, 49u);
  EXPECT_EQ(p.position, at);
  ASSERT_EQ(p.queues.size(), 1u);
  const view::QueuePicture& q = p.queues[0];
  EXPECT_EQ(q.avail_hand, 6u);
  EXPECT_EQ(q.used_hand, 5u);
  EXPECT_EQ(q.positions[5], CellState::InFlight);
  EXPECT_EQ(q.positions[6], CellState::Free);
  EXPECT_EQ(q.descriptors[0], CellState::InFlight);
  ASSERT_EQ(q.chains.size(), 1u);
  EXPECT_EQ(q.chains[0].detail, "head 0: READ sector 8 len 4096");

  // #52: avail 46 used 45: a different position, the same head 0 (reused: #51 had none in flight,
  // so this READ is dated from #52, not from #50).
  const auto later = view::build_ring_picture(store, 0, states, view::ring_state_at(states, 51));
  ASSERT_EQ(later.queues.size(), 1u);
  EXPECT_EQ(later.queues[0].avail_hand, 46u);
  EXPECT_EQ(later.queues[0].used_hand, 45u);
  EXPECT_EQ(later.queues[0].positions[45], CellState::InFlight);
  EXPECT_EQ(later.queues[0].positions[5], CellState::Free);
  ASSERT_EQ(later.queues[0].chains.size(), 1u);
  EXPECT_EQ(later.queues[0].chains[0].since_ns, store.entry(51).timestamp_ns);

  // The first ring state (#30): nothing in flight, both hands at 0.
  const auto first = view::build_ring_picture(store, 0, states, 0);
  ASSERT_EQ(first.queues.size(), 1u);
  EXPECT_EQ(first.queues[0].avail_hand, 0u);
  EXPECT_EQ(first.queues[0].used_hand, 0u);
  EXPECT_EQ(count(first.queues[0].descriptors, CellState::Free), 128u);
  EXPECT_TRUE(first.queues[0].chains.empty());
  // Without EVENT_IDX (the firmware's ring) the driver's consumed position is not known.
  EXPECT_FALSE(first.queues[0].used_unconsumed.has_value());
}

TEST_F(RingPictureTest, NoRingStatesGiveAnEmptyPicture) {
  const auto p = view::build_ring_picture(store, 0, {}, 0);
  EXPECT_TRUE(p.queues.empty());
}

TEST(RingPictureFold, LargeRingsKeepEveryInFlightCellVisible) {
  std::vector<CellState> cells(32768, CellState::Free);
  cells[12345] = CellState::InFlight;
  cells[40] = CellState::Available;
  cells[41] = CellState::Used;
  const auto folded = view::fold_cells(cells, 512);
  ASSERT_EQ(folded.size(), 512u);
  EXPECT_EQ(folded[12345 * 512 / 32768], CellState::InFlight);
  EXPECT_EQ(folded[0], CellState::Available);  // available outranks used in one segment
  EXPECT_EQ(count(folded, CellState::InFlight), 1u);
  EXPECT_EQ(count(folded, CellState::Free), 510u);
  // Small rings are drawn cell by cell.
  EXPECT_EQ(view::fold_cells(std::vector<CellState>(128), 512).size(), 128u);
  EXPECT_TRUE(view::fold_cells(cells, 0).empty());
}

// The statistics window shows the cells `vhostscope stats` pads: the same text, row by row.
TEST(StatsTables, CliTextIsTheTablesPadded) {
  const Store store = shipped_hang();
  const CaptureStats stats = compute_stats(store);
  const std::string text = format_stats(stats);
  const ScopeStats& overall = stats.overall;
  const auto requests = view::request_table(overall);
  ASSERT_EQ(requests.rows.size(), overall.requests.size());
  EXPECT_NE(text.find(view::scope_title(overall) + "\n"), std::string::npos);
  EXPECT_EQ(view::scope_title(overall), "Overall: 76 records, 41 messages, 26.10 s");
  EXPECT_NE(text.find(view::padded_header(requests, 2) + "\n"), std::string::npos);
  for (const auto& row : requests.rows)
    EXPECT_NE(text.find(view::padded_row(requests, row, 2) + "\n"), std::string::npos) << row[1];
  // GET_VRING_BASE: two sent, one answered after 63.3 µs.
  auto get_base = std::find_if(requests.rows.begin(), requests.rows.end(),
                               [](const auto& r) { return r[1] == "GET_VRING_BASE"; });
  ASSERT_NE(get_base, requests.rows.end());
  EXPECT_EQ(*get_base, (std::vector<std::string>{"fe", "GET_VRING_BASE", "2", "1", "63.3 µs",
                                                 "63.3 µs", "63.3 µs", "63.3 µs"}));
  const auto queues = view::queue_table(overall);
  ASSERT_EQ(queues.rows.size(), 1u);
  EXPECT_EQ(queues.rows[0],
            (std::vector<std::string>{"0", "0", "0", "31", "2565", "121.4", "0/0.2/1"}));
  EXPECT_NE(text.find("  " + view::padded_row(queues, queues.rows[0], 0)), std::string::npos);
  const auto findings = view::finding_table(overall);
  ASSERT_EQ(findings.rows.size(), 2u);
  EXPECT_EQ(findings.rows[0][0], "error");
  EXPECT_NE(text.find(view::padded_row(findings, findings.rows[0], 4) + "\n"), std::string::npos);
}

}  // namespace
}  // namespace vhs
