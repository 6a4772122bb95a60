// GUI view-models that turn session state into what the views draw: the feature matrices, the
// memory-map axis layout and ring marks, fd roles, exporting a store back to records, and the
// rings view's replay of a session up to an earlier message.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "app/common/text_format.hpp"
#include "app/common/view_export.hpp"
#include "app/common/view_fds.hpp"
#include "app/common/view_features.hpp"
#include "app/common/view_memory.hpp"
#include "app/common/view_rings.hpp"
#include "app/common/view_sample_fields.hpp"
#include "app/common/view_text.hpp"
#include "app/common/view_timeline.hpp"
#include "captures/format/capture_file.hpp"
#include "captures/model/store.hpp"
#include "decoders/virtio/notify_record.hpp"
#include "support/message_builder.hpp"
#include "support/temp_dir.hpp"

namespace vhs {
namespace {

// ---- features ----

// The shipped hang capture, read whole.
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

const Field* field(const std::vector<Field>& fields, std::string_view path) {
  for (const Field& f : fields)
    if (f.path == path) return &f;
  return nullptr;
}

TEST(SampleFields, RingStateOfTheHangReadsAsWhatIsInFlight) {
  const Store store = shipped_hang();
  // #72: the ring state the stall was found on (1 READ in flight, used idx standing still).
  const size_t i = 71;
  ASSERT_EQ(store.entry(i).kind, RecordKind::RingState);
  EXPECT_EQ(view::ring_state_summary(store, i),
            "q0 1 in flight · oldest head 0: READ sector 0 len 4096 · avail 2565 used 2564");
  const auto fields = view::sample_fields(store, i);
  ASSERT_NE(field(fields, "queue"), nullptr);
  EXPECT_EQ(field(fields, "queue")->value.number, 0u);
  EXPECT_EQ(field(fields, "avail_idx")->value.number, 2565u);
  EXPECT_EQ(field(fields, "avail_idx")->offset, 12u);
  EXPECT_EQ(field(fields, "used_idx")->value.number, 2564u);
  EXPECT_EQ(field(fields, "in_flight")->value.number, 1u);
  EXPECT_EQ(field(fields, "in_flight")->offset, 28u);
  ASSERT_NE(field(fields, "oldest.arg"), nullptr);
  EXPECT_EQ(field(fields, "oldest.arg")->value.number, 0u);
  EXPECT_EQ(field(fields, "oldest")->text, "head 0: READ sector 0 len 4096");
  EXPECT_EQ(field(fields, "oldest")->offset, 40u + 2u);  // after the header and one head
  // An idle sample says so; messages have no sample fields.
  EXPECT_EQ(view::ring_state_summary(store, 32), "q0 idle · avail 1 used 1");
  EXPECT_TRUE(view::sample_fields(store, 1).empty());
}

TEST(SampleFields, NotifyRecord) {
  Store store;
  Record r;
  r.kind = RecordKind::Notify;
  r.session = 1;
  r.bytes = encode_notify({NotifySource::Call, NotifyEvent::Held, 3, 7});
  store.append(r);
  const auto fields = view::sample_fields(store, 0);
  ASSERT_EQ(fields.size(), 4u);
  EXPECT_EQ(field(fields, "queue")->value.number, 3u);
  EXPECT_EQ(field(fields, "source")->text, "call");
  EXPECT_EQ(field(fields, "event")->text, "held");
  EXPECT_EQ(field(fields, "count")->value.number, 7u);
  EXPECT_EQ(field(fields, "count")->offset, 8u);
}

TEST(HangSpans, RingStallIsTheEpisodeOnItsQueueLane) {
  const Store store = shipped_hang();
  view::TimelineIndex tl;
  tl.update(store, SIZE_MAX);
  const auto spans = view::hang_spans(store, tl, 0, false);
  const view::HangSpan* stall = nullptr;
  for (const auto& h : spans)
    if (store.entry(h.entry).kind == RecordKind::RingState) stall = &h;
  ASSERT_NE(stall, nullptr);
  EXPECT_EQ(stall->what, "q0 stalled (1 in flight) for");
  ASSERT_LT(stall->lane, tl.lanes().size());
  // On the queue's ring-state track, under the queue's messages.
  EXPECT_EQ(tl.lanes()[stall->lane].key,
            (view::LaneKey{view::LaneKind::Queue, 0, view::QueueTrack::RingStates}));
  EXPECT_EQ(stall->end, store.entry(store.size() - 1).timestamp_ns);  // never moved again
  for (const auto& h : spans)
    if (&h != stall) {
      EXPECT_EQ(h.what, "GET_VRING_BASE waited");
    }
}

TEST(ViewText, CountsReadAsEnglish) {
  EXPECT_EQ(view::count_of(1, "reply", "replies"), "1 reply");
  EXPECT_EQ(view::count_of(0, "reply", "replies"), "0 replies");
  EXPECT_EQ(view::count_of(2, "session"), "2 sessions");
  EXPECT_EQ(view::count_of(1, "session"), "1 session");
}

TEST(FeatureMatrix, StatesPerBit) {
  FeatureWord w;
  w.offered = (1ull << 32) | (1ull << 30) | (1ull << 13) | (1ull << 45);
  w.acked = (1ull << 32) | (1ull << 34);
  const auto m = view::feature_matrix(w, DeviceKind::Blk);
  auto row = [&](unsigned bit) -> const view::FeatureBit* {
    for (const auto& r : m.rows)
      if (r.bit == bit) return &r;
    return nullptr;
  };
  ASSERT_NE(row(32), nullptr);
  EXPECT_EQ(row(32)->name, "VERSION_1");
  EXPECT_EQ(row(32)->state, view::BitState::Negotiated);
  EXPECT_EQ(row(34)->name, "RING_PACKED");
  EXPECT_EQ(row(34)->state, view::BitState::AckedNotOffered);
  EXPECT_EQ(row(13)->name, "DISCARD");
  EXPECT_EQ(row(13)->state, view::BitState::OfferedOnly);
  EXPECT_EQ(row(45)->name, "bit 45");  // set but unnamed
  EXPECT_FALSE(row(45)->named);
  EXPECT_EQ(row(5)->state, view::BitState::Neither);  // RO: named for blk, nobody set it
  EXPECT_EQ(row(44), nullptr);                        // unnamed and unset: not shown
  EXPECT_EQ(m.offered, 4u);
  EXPECT_EQ(m.acked, 2u);
  EXPECT_EQ(m.negotiated, 1u);
  EXPECT_EQ(m.mismatches, 1u);
  // Every named bit of the tables is a row.
  size_t named = 0;
  for (unsigned b = 0; b < 64; ++b) named += !feature_name(DeviceKind::Blk, b).empty();
  EXPECT_EQ(m.rows.size(), named + 1);  // + bit 45
}

TEST(FeatureMatrix, NoOfferSeenIsNotAMismatch) {
  FeatureWord w;
  w.acked = 1ull << 3;  // joined mid-session: the offer was never seen
  const auto m = view::protocol_feature_matrix(w);
  EXPECT_FALSE(m.offered_known);
  EXPECT_EQ(m.mismatches, 0u);
  for (const auto& r : m.rows) {
    if (r.bit == 3) {
      EXPECT_EQ(r.state, view::BitState::Negotiated);
    }
  }
}

// ---- memory ----

TEST(AxisLayout, ToScaleWithCompressedHoles) {
  // 2 GiB at 0, 2 GiB at 4 GiB (a 2 GiB hole: compressed), 1 MiB right after the second.
  const std::vector<view::AddressRange> r = {
      {0, 2ull << 30}, {4ull << 30, 2ull << 30}, {6ull << 30, 1ull << 20}};
  const auto a = view::AxisLayout::build(r, 0.05, 0.04);
  ASSERT_EQ(a.pieces().size(), 2u);  // the last two touch: one covered span
  ASSERT_EQ(a.breaks().size(), 1u);
  const auto s0 = a.span_of(r[0]);
  const auto s1 = a.span_of(r[1]);
  ASSERT_TRUE(s0 && s1);
  EXPECT_DOUBLE_EQ(s0->first, 0.0);
  EXPECT_NEAR(s0->second - s0->first, s1->second - s1->first, 1e-9);  // equal sizes, equal widths
  EXPECT_NEAR(s1->first - s0->second, 0.04, 1e-9);                    // the break
  EXPECT_NEAR(a.span_of(r[2])->second, 1.0, 1e-9);
  EXPECT_FALSE(a.x_of(3ull << 30).has_value());  // in the hole
  EXPECT_NEAR(*a.x_of(1ull << 30), s0->second / 2, 1e-9);
}

TEST(AxisLayout, SmallHolesStayToScale) {
  const std::vector<view::AddressRange> r = {{0, 1000}, {1010, 1000}};
  const auto a = view::AxisLayout::build(r, 0.05, 0.04);
  EXPECT_TRUE(a.breaks().empty());
  EXPECT_NEAR(a.span_of(r[1])->first, 1010.0 / 2010.0, 1e-9);
  EXPECT_TRUE(view::AxisLayout::build({}, 0.05, 0.04).pieces().empty());
}

SessionState session_with_rings(bool access_platform) {
  SessionState st;
  MemRegionState a, b;
  a.region = {0, 1ull << 30, 0x7f0000000000, 0};
  b.region = {4ull << 30, 1ull << 30, 0x7f8000000000, 1ull << 30};
  st.regions = {a, b};
  VringState v;
  v.index = 1;
  v.addr = VringAddrValue{1, 1, 0x7f0000001000, 0x7f8000003000, 0x7f0000002000, 0x3000};
  st.vrings = {v};
  if (access_platform) st.features.acked = 1ull << kFeatureAccessPlatform;
  return st;
}

TEST(RingMarks, TranslatedThroughTheTable) {
  const auto marks = view::ring_marks(session_with_rings(false));
  ASSERT_EQ(marks.size(), 4u);  // desc, avail, used + log (flags bit 0)
  EXPECT_EQ(marks[0].part, "desc");
  EXPECT_EQ(marks[0].region, std::optional<size_t>(0));
  EXPECT_EQ(marks[0].gpa, std::optional<uint64_t>(0x1000));
  EXPECT_EQ(marks[1].part, "avail");
  EXPECT_EQ(marks[1].gpa, std::optional<uint64_t>(0x2000));
  EXPECT_EQ(marks[2].part, "used");
  EXPECT_EQ(marks[2].region, std::optional<size_t>(1));
  EXPECT_EQ(marks[2].gpa, std::optional<uint64_t>((4ull << 30) + 0x3000));
  EXPECT_EQ(marks[3].part, "log");
  EXPECT_EQ(marks[3].uva, std::optional<uint64_t>(0x7f0000003000));
  EXPECT_EQ(view::region_of_gpa(session_with_rings(false), (4ull << 30) + 5),
            std::optional<size_t>(1));
  EXPECT_EQ(view::region_of_uva(session_with_rings(false), 0x1234), std::nullopt);
}

TEST(RingMarks, IovasAreNotTranslated) {
  const auto marks = view::ring_marks(session_with_rings(true));
  ASSERT_EQ(marks.size(), 4u);
  EXPECT_TRUE(marks[0].iova);
  EXPECT_FALSE(marks[0].region.has_value());
  EXPECT_FALSE(marks[0].gpa.has_value());
}

// ---- fd roles ----

std::vector<std::string> roles(test::Bytes bytes, size_t fds, bool reply = false) {
  std::vector<FdInfo> info(fds, FdInfo{FdKind::Eventfd, 1, 0, ""});
  DecodedMessage m = decode_message(Channel::Frontend, bytes, info);
  EXPECT_EQ(m.is_reply, reply);
  return view::fd_roles(m, fds);
}

TEST(FdRoles, FromTheRequest) {
  EXPECT_EQ(roles(test::request("SET_VRING_KICK", test::vring_index_fd(3)), 1),
            (std::vector<std::string>{"kick eventfd, queue 3"}));
  EXPECT_EQ(roles(test::request("SET_VRING_CALL", test::vring_index_fd(0)), 1),
            (std::vector<std::string>{"call eventfd, queue 0"}));
  EXPECT_EQ(roles(test::request("SET_VRING_ERR", test::vring_index_fd(2)), 1),
            (std::vector<std::string>{"error eventfd, queue 2"}));
  EXPECT_EQ(roles(test::request("SET_BACKEND_REQ_FD"), 1),
            (std::vector<std::string>{"back-end channel socket"}));
  const test::Region r[2] = {{0, 4096, 0x1000, 0}, {8192, 4096, 0x9000, 0}};
  EXPECT_EQ(roles(test::request("SET_MEM_TABLE", test::mem_table(r)), 2),
            (std::vector<std::string>{
                "guest memory, region 0 (GPA 0x0, " + compact_size(4096) + ")",
                "guest memory, region 1 (GPA 0x2000, " + compact_size(4096) + ")"}));
  // An fd where the request carries none.
  EXPECT_EQ(roles(test::request("SET_OWNER"), 1), (std::vector<std::string>{"unexpected fd"}));
  EXPECT_TRUE(roles(test::request("SET_OWNER"), 0).empty());
}

// ---- export ----

TEST(Export, RecordsRoundTripThroughAFile) {
  Store s;
  Record c;
  c.kind = RecordKind::Connect;
  c.session = 3;
  c.timestamp_ns = 100;
  const std::string note = "front-end connected";
  c.bytes.assign(note.begin(), note.end());
  s.append(c);
  Record m;
  m.session = 3;
  m.timestamp_ns = 200;
  m.flags = kRecordFdsTruncated;
  m.fds = {FdInfo{FdKind::Eventfd, 77, 0, "anon_inode:[eventfd]"}};
  m.bytes = test::request("SET_VRING_CALL", test::vring_index_fd(1));
  s.append(m);

  const Record back = view::record_of(s, 1);
  EXPECT_EQ(back.bytes, m.bytes);
  EXPECT_EQ(back.fds, m.fds);
  EXPECT_EQ(back.flags, kRecordFdsTruncated);
  EXPECT_EQ(back.session, 3u);
  EXPECT_EQ(back.timestamp_ns, 200u);
  EXPECT_EQ(view::record_of(s, 0).text(), note);

  test::TempDir dir;
  std::string error;
  auto w = CaptureWriter::create(dir / "out.pcap", error);
  ASSERT_TRUE(w) << error;
  EXPECT_EQ(view::export_records(s, *w), 2u);
  ASSERT_TRUE(w->flush());
  w.reset();
  Store loaded;
  std::string warning;
  ASSERT_TRUE(load_capture(dir / "out.pcap", loaded, warning, error)) << error;
  ASSERT_EQ(loaded.size(), 2u);
  EXPECT_EQ(loaded.entry(0).kind, RecordKind::Connect);
  EXPECT_EQ(loaded.text(0), note);
  EXPECT_EQ(std::vector<uint8_t>(loaded.bytes(1).begin(), loaded.bytes(1).end()), m.bytes);
  EXPECT_EQ(loaded.fds(1)[0], m.fds[0]);
}

// ---- rings: replay to an earlier point ----

TEST(SessionReplay, StateAtAnEarlierMessage) {
  Store s;
  auto add = [&](test::Bytes b, uint64_t t) {
    Record r;
    r.session = 1;
    r.timestamp_ns = t;
    r.bytes = std::move(b);
    if (r.bytes[0] == test::request_number("SET_VRING_KICK"))
      r.fds = {FdInfo{FdKind::Eventfd, 5, 0, ""}};
    s.append(r);
  };
  add(test::request("SET_VRING_NUM", test::vring_state(0, 128)), 1);  // 0
  add(test::request("SET_VRING_KICK", test::vring_index_fd(0)), 2);   // 1: starts queue 0
  add(test::request("SET_VRING_NUM", test::vring_state(0, 256)), 3);  // 2
  add(test::request("SET_VRING_NUM", test::vring_state(1, 64)), 4);   // 3
  ASSERT_EQ(s.sessions().size(), 1u);

  view::SessionReplay replay;
  EXPECT_TRUE(replay.update(s, 0, 0, 100));
  ASSERT_EQ(replay.state().vrings.size(), 1u);
  EXPECT_EQ(replay.state().vrings[0].num, std::optional<uint32_t>(128));
  EXPECT_FALSE(replay.state().vrings[0].started);

  // Forward in budgeted steps.
  EXPECT_FALSE(replay.update(s, 0, 3, 1));
  EXPECT_EQ(replay.position(), 1u);
  EXPECT_TRUE(replay.state().vrings[0].started);
  while (!replay.update(s, 0, 3, 1)) {
  }
  EXPECT_EQ(replay.state().vrings.size(), 2u);
  EXPECT_EQ(replay.state().vrings[0].num, std::optional<uint32_t>(256));

  // Backwards restarts from the session's first message.
  EXPECT_TRUE(replay.update(s, 0, 1, 100));
  EXPECT_EQ(replay.position(), 1u);
  EXPECT_EQ(replay.state().vrings.size(), 1u);
  EXPECT_EQ(replay.state().vrings[0].num, std::optional<uint32_t>(128));
  EXPECT_EQ(view::session_entries(s, 0), (std::vector<uint32_t>{0, 1, 2, 3}));
  EXPECT_TRUE(view::ring_records_until(s, 0, 3).empty());
  EXPECT_FALSE(replay.update(s, 5, 0, 100));  // no such session
}

}  // namespace
}  // namespace vhs
