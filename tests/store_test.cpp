// The ingest store: records built from raw message bytes go through decode + analyse + append;
// pairing links, findings (also late ones), sessions, contexts, load_capture and RecordQueue.
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "captures/format/capture_file.hpp"
#include "captures/model/store.hpp"
#include "support/temp_dir.hpp"

namespace vhs {
namespace {

constexpr uint32_t kReq = 0x1;
constexpr uint32_t kNeed = 0x9;
constexpr uint32_t kRep = 0x5;

uint32_t code(std::string_view name) {
  const RequestInfo* info = find_request_by_name(name);
  EXPECT_NE(info, nullptr) << name;
  return info ? info->number : 0;
}

void put32(std::vector<uint8_t>& b, uint32_t v) {
  for (int i = 0; i < 4; ++i) b.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
void put64(std::vector<uint8_t>& b, uint64_t v) {
  for (int i = 0; i < 8; ++i) b.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

std::vector<uint8_t> message(std::string_view name, uint32_t flags,
                             const std::vector<uint8_t>& payload) {
  std::vector<uint8_t> b;
  put32(b, code(name));
  put32(b, flags);
  put32(b, static_cast<uint32_t>(payload.size()));
  b.insert(b.end(), payload.begin(), payload.end());
  return b;
}
std::vector<uint8_t> u64(uint64_t v) {
  std::vector<uint8_t> b;
  put64(b, v);
  return b;
}
std::vector<uint8_t> vring_state(uint32_t index, uint32_t num) {
  std::vector<uint8_t> b;
  put32(b, index);
  put32(b, num);
  return b;
}
std::vector<uint8_t> mem_table(uint64_t gpa, uint64_t size, uint64_t uva, uint64_t off) {
  std::vector<uint8_t> b;
  put32(b, 1);
  put32(b, 0);
  put64(b, gpa);
  put64(b, size);
  put64(b, uva);
  put64(b, off);
  return b;
}

struct RecordMaker {
  uint64_t t = 1'700'000'000'000'000'000;
  uint32_t session = 1;

  Record make(RecordKind kind, Direction d, Channel c, std::vector<uint8_t> bytes,
              std::vector<FdInfo> fds = {}, uint64_t step = 1'000'000) {
    Record r;
    r.kind = kind;
    r.direction = d;
    r.channel = c;
    r.session = session;
    t += step;
    r.timestamp_ns = t;
    r.bytes = std::move(bytes);
    r.fds = std::move(fds);
    return r;
  }
  Record connect(std::string_view note = "frontend connected") {
    return make(RecordKind::Connect, Direction::ToBackend, Channel::Frontend,
                {note.begin(), note.end()});
  }
  Record disconnect(std::string_view why = "front-end closed") {
    return make(RecordKind::Disconnect, Direction::ToBackend, Channel::Frontend,
                {why.begin(), why.end()});
  }
  Record to_backend(std::vector<uint8_t> b, std::vector<FdInfo> fds = {},
                    uint64_t step = 1'000'000) {
    return make(RecordKind::Message, Direction::ToBackend, Channel::Frontend, std::move(b),
                std::move(fds), step);
  }
  Record to_frontend(std::vector<uint8_t> b, std::vector<FdInfo> fds = {},
                     uint64_t step = 1'000'000) {
    return make(RecordKind::Message, Direction::ToFrontend, Channel::Frontend, std::move(b),
                std::move(fds), step);
  }
};

FdInfo memfd(uint64_t size) { return {FdKind::Memfd, 11, size, "memfd:pc.ram"}; }

std::vector<FindingCode> codes(std::span<const Finding> fs) {
  std::vector<FindingCode> out;
  for (const auto& f : fs) out.push_back(f.code);
  return out;
}
using Codes = std::vector<FindingCode>;

TEST(Store, PairsRequestAndReplyBothWays) {
  Store store;
  RecordMaker m;
  store.append(m.connect());
  store.append(m.to_backend(message("GET_FEATURES", kReq, {})));
  store.append(m.to_frontend(message("GET_FEATURES", kRep, u64(uint64_t{1} << 30)), {}, 250'000));
  ASSERT_EQ(store.size(), 3u);
  EXPECT_EQ(store.entry(0).kind, RecordKind::Connect);
  EXPECT_EQ(store.text(0), "frontend connected");
  const StoreEntry& req = store.entry(1);
  const StoreEntry& rep = store.entry(2);
  EXPECT_EQ(req.role, MessageRole::Request);
  EXPECT_EQ(req.expects, ReplyExpectation::Reply);
  EXPECT_EQ(req.peer, 2u);
  EXPECT_EQ(rep.role, MessageRole::Reply);
  EXPECT_EQ(rep.peer, 1u);
  EXPECT_EQ(rep.latency_ns, 250'000u);
  ASSERT_NE(rep.info, nullptr);
  EXPECT_EQ(rep.info->name, "GET_FEATURES");
  EXPECT_EQ(rep.header.flags, kRep);
  EXPECT_FALSE(rep.has_findings);
  EXPECT_EQ(store.bytes(2).size(), 20u);
  DecodedMessage d = store.decoded(2);
  EXPECT_EQ(d.name(), "GET_FEATURES");
  ASSERT_TRUE(std::holds_alternative<U64Value>(d.payload));
  EXPECT_EQ(std::get<U64Value>(d.payload).value, uint64_t{1} << 30);
  ASSERT_EQ(store.sessions().size(), 1u);
  EXPECT_EQ(store.sessions()[0].connect_entry, 0u);
  EXPECT_EQ(store.sessions()[0].entries, 3u);
  EXPECT_EQ(store.sessions()[0].state().features.offered, uint64_t{1} << 30);
}

TEST(Store, KeepsFdsAndDecoderFindings) {
  Store store;
  RecordMaker m;
  store.append(m.connect());
  store.append(m.to_backend(message("SET_MEM_TABLE", kReq, mem_table(0, 1 << 20, 0x7f00000000, 0)),
                            {memfd(1 << 20)}));
  // GET_VRING_BASE reply must be 8 bytes: 4 is a size mismatch (decoder finding).
  store.append(m.to_backend(message("GET_VRING_BASE", kReq, vring_state(0, 0))));
  store.append(m.to_frontend(message("GET_VRING_BASE", kRep, {1, 0, 0, 0})));
  ASSERT_EQ(store.fds(1).size(), 1u);
  EXPECT_EQ(store.fds(1)[0].name, "memfd:pc.ram");
  EXPECT_EQ(store.fds(2).size(), 0u);
  ASSERT_EQ(store.sessions()[0].state().regions.size(), 1u);
  EXPECT_EQ(store.sessions()[0].state().regions[0].fd.size, 1u << 20);
  EXPECT_TRUE(store.entry(3).has_findings);
  EXPECT_EQ(store.entry(3).worst, Severity::Error);
  EXPECT_EQ(codes(store.findings(3)), Codes{FindingCode::PayloadSizeMismatch});
  EXPECT_EQ(store.entry(3).peer, 2u);  // still paired
  EXPECT_EQ(std::vector<uint32_t>(store.flagged().begin(), store.flagged().end()),
            std::vector<uint32_t>{3});
}

// The index keeps a record's address as a 32-bit offset from its chunk's first record: bytes
// that lie far from it (another allocation, here the stack and the heap; in a live capture another
// arena chunk) must still come back, as must the registry row, which the index
// finds again from the header, and the fd count, which it reads from the stored run.
TEST(Store, RecordsFarApartInMemoryKeepTheirBytes) {
  const uint8_t note[] = {'h', 'e', 'l', 'l', 'o'};
  RecordMaker m;
  const Record connect = m.connect();
  std::vector<std::vector<uint8_t>> heap;
  Store store;
  RecordView first(connect);
  first.bytes = {note, sizeof note};
  store.append_stable(first);
  for (int i = 0; i < 3; ++i) {
    heap.push_back(message("GET_FEATURES", kReq, {}));
    const Record r = m.to_backend(heap.back(), {memfd(4096)});
    RecordView v(r);
    v.bytes = heap.back();
    store.append_stable(v);
  }
  store.append(m.to_backend({1, 2}));  // a truncated header: no registry row
  ASSERT_EQ(store.size(), 5u);
  EXPECT_EQ(store.text(0), "hello");
  for (size_t i = 1; i <= 3; ++i) {
    EXPECT_EQ(store.bytes(i).data(), heap[i - 1].data());
    ASSERT_NE(store.entry(i).info, nullptr);
    EXPECT_EQ(std::string_view(store.entry(i).info->name), "GET_FEATURES");
    EXPECT_EQ(store.entry(i).fd_count, 1u);
    EXPECT_EQ(store.fds(i).size(), 1u);
  }
  EXPECT_EQ(store.bytes(4).size(), 2u);
  EXPECT_EQ(store.entry(4).info, nullptr);
  EXPECT_EQ(store.entry(4).fd_count, 0u);
  EXPECT_EQ(store.entry(3).timestamp_ns, connect.timestamp_ns + 3'000'000);
}

TEST(Store, FinishAddsUnansweredToTheWaitingRequest) {
  Store store;
  RecordMaker m;
  store.append(m.connect());
  store.append(m.to_backend(message("GET_VRING_BASE", kReq, vring_state(0, 0))));
  store.append(m.make(RecordKind::Error, Direction::ToBackend, Channel::Frontend,
                      {'o', 'o', 'p', 's'}, {}, 2'000'000'000));
  EXPECT_EQ(std::vector<uint32_t>(store.flagged().begin(), store.flagged().end()),
            std::vector<uint32_t>{2});
  EXPECT_EQ(codes(store.findings(2)), Codes{FindingCode::RelayFailed});
  EXPECT_EQ(store.findings(2)[0].detail, "oops");
  store.finish();
  EXPECT_EQ(codes(store.findings(1)), Codes{FindingCode::Unanswered});
  EXPECT_EQ(store.findings(1)[0].detail,
            "GET_VRING_BASE (index 0) unanswered: waiting for 2000 ms when the capture ended");
  // The late finding keeps the flagged list in entry order.
  EXPECT_EQ(std::vector<uint32_t>(store.flagged().begin(), store.flagged().end()),
            (std::vector<uint32_t>{1, 2}));
  SeverityCounts c = store.severity_counts();
  EXPECT_EQ(c.error, 2u);
  store.finish();  // idempotent
  EXPECT_EQ(store.findings(1).size(), 1u);
}

TEST(Store, DisconnectEndsTheSessionWithPendingReported) {
  Store store;
  RecordMaker m;
  store.append(m.connect());
  store.append(m.to_backend(message("GET_FEATURES", kReq, {})));
  store.append(m.disconnect());
  EXPECT_EQ(codes(store.findings(1)), Codes{FindingCode::DisconnectWithPending});
  EXPECT_TRUE(store.sessions()[0].ended());
  EXPECT_EQ(store.sessions()[0].disconnect_entry, 2u);
  store.finish();
  EXPECT_EQ(store.findings(1).size(), 1u);
}

TEST(Store, BackendChannelConnectAndDisconnectStayInsideTheSession) {
  Store store;
  RecordMaker m;
  store.append(m.connect());
  store.append(m.to_backend(message("GET_VRING_BASE", kReq, vring_state(0, 0))));
  store.append(m.make(RecordKind::Connect, Direction::ToBackend, Channel::Backend, {'b', 'e'}));
  store.append(m.to_frontend(message("GET_VRING_BASE", kRep, vring_state(0, 3))));
  store.append(m.make(RecordKind::Disconnect, Direction::ToBackend, Channel::Backend, {}));
  ASSERT_EQ(store.sessions().size(), 1u);
  EXPECT_EQ(store.entry(3).peer, 1u);
  EXPECT_EQ(store.sessions()[0].connect_entry, 0u);
  EXPECT_FALSE(store.sessions()[0].ended());
  EXPECT_FALSE(store.sessions()[0].analyser.finished());
}

TEST(Store, SessionClosedByTheProxyLeavesRequestsUnanswered) {
  Store store;
  RecordMaker m;
  store.append(m.connect());
  store.append(m.to_backend(message("GET_VRING_BASE", kReq, vring_state(0, 0))));
  Record stop = m.make(RecordKind::Disconnect, Direction::ToBackend, Channel::Frontend,
                       {'s', 't', 'o', 'p'}, {}, 3'000'000'000);
  stop.flags = kRecordClosedByProxy;
  store.append(stop);
  EXPECT_EQ(codes(store.findings(1)), Codes{FindingCode::Unanswered});
  EXPECT_EQ(store.findings(1)[0].detail,
            "GET_VRING_BASE (index 0) unanswered: waiting for 3000 ms when the capture ended");
  EXPECT_TRUE(store.sessions()[0].ended());
}

TEST(Store, SessionsAreSeparateAndJoinedSessionsDoNotWarnAboutOrder) {
  Store store;
  RecordMaker a, b;
  b.session = 2;
  store.append(a.connect());
  store.append(a.to_backend(message("GET_FEATURES", kReq, {})));
  // Session 2 joined mid-way: a gated request without visible negotiation is not suspicious.
  store.append(b.to_backend(message("GET_QUEUE_NUM", kReq, {})));
  store.append(a.to_frontend(message("GET_FEATURES", kRep, u64(0))));
  store.append(b.to_frontend(message("GET_QUEUE_NUM", kRep, u64(4))));
  ASSERT_EQ(store.sessions().size(), 2u);
  EXPECT_EQ(store.entry(3).peer, 1u);
  EXPECT_EQ(store.entry(4).peer, 2u);
  EXPECT_EQ(store.entry(2).session_index, 1u);
  EXPECT_EQ(store.session_of(4).id, 2u);
  EXPECT_FALSE(store.entry(2).has_findings);
  EXPECT_EQ(store.find_session(2)->state().queue_num, 4u);
  EXPECT_EQ(store.find_session(7), nullptr);
  // A new Connect on a used id starts a new session.
  store.append(a.connect("again"));
  EXPECT_EQ(store.sessions().size(), 3u);
  EXPECT_EQ(store.find_session(1)->connect_entry, 5u);
}

TEST(Store, ContextFollowsNegotiatedProtocolFeatures) {
  Store store;
  RecordMaker m;
  store.append(m.connect());
  store.append(m.to_backend(message("GET_FEATURES", kReq, {})));
  store.append(m.to_frontend(message("GET_FEATURES", kRep, u64(uint64_t{1} << 30))));
  store.append(m.to_backend(message("GET_PROTOCOL_FEATURES", kReq, {})));
  store.append(m.to_frontend(message("GET_PROTOCOL_FEATURES", kRep, u64(0x8))));
  store.append(m.to_backend(message("SET_PROTOCOL_FEATURES", kReq, u64(0x8))));
  store.append(m.to_backend(message("SET_OWNER", kNeed, {})));
  store.append(m.to_frontend(message("SET_OWNER", kRep, u64(0))));
  EXPECT_FALSE(store.context(5).protocol_features_known);  // decoded before its own effect
  EXPECT_TRUE(store.context(6).protocol_features_known);
  EXPECT_EQ(store.context(6).protocol_features, 0x8u);
  EXPECT_EQ(store.entry(6).expects, ReplyExpectation::Ack);
  EXPECT_EQ(store.entry(7).role, MessageRole::Ack);
  EXPECT_EQ(store.flagged().size(), 0u);
}

TEST(Store, RecordFlagsBecomeFindings) {
  Store store;
  RecordMaker m;
  store.append(m.connect());
  Record r = m.to_backend(message("SET_VRING_CALL", kReq, u64(0)));
  r.flags = kRecordFdsTruncated;
  store.append(r);
  Record cut = m.to_backend({3, 0, 0});
  cut.flags = kRecordIncomplete;
  store.append(cut);
  auto c1 = codes(store.findings(1));
  EXPECT_NE(std::find(c1.begin(), c1.end(), FindingCode::FdsTruncated), c1.end());
  auto c2 = codes(store.findings(2));
  EXPECT_NE(std::find(c2.begin(), c2.end(), FindingCode::TruncatedHeader), c2.end());
  EXPECT_NE(std::find(c2.begin(), c2.end(), FindingCode::PeerVanishedMidMessage), c2.end());
  EXPECT_FALSE(store.entry(2).header_complete);
}

TEST(Store, DeviceOptionIsUsedForDecoding) {
  Store store(Store::Options{DeviceKind::Fs});
  RecordMaker m;
  store.append(m.connect());
  store.append(m.to_backend(message("GET_FEATURES", kReq, {})));
  EXPECT_EQ(store.context(1).device, DeviceKind::Fs);
  EXPECT_EQ(store.sessions()[0].state().device, DeviceKind::Fs);
}

TEST(LoadCapture, MissingFileIsAnError) {
  Store store;
  std::string warning, error;
  EXPECT_FALSE(load_capture("/nonexistent/x.pcap", store, warning, error));
  EXPECT_EQ(error, "cannot open capture '/nonexistent/x.pcap': No such file or directory");
  EXPECT_EQ(store.size(), 0u);
}

TEST(LoadCapture, ReadsWhatWasWrittenAndWarnsOnTruncation) {
  test::TempDir dir;
  const std::string path = dir / "s.pcap";
  RecordMaker m;
  {
    std::string error;
    auto w = CaptureWriter::create(path, error);
    ASSERT_NE(w, nullptr) << error;
    w->write(m.connect());
    w->write(m.to_backend(message("GET_VRING_BASE", kReq, vring_state(0, 0))));
    w->write(m.to_frontend(message("GET_VRING_BASE", kRep, vring_state(0, 9))));
    w->write(m.to_backend(message("GET_FEATURES", kReq, {})));
    ASSERT_TRUE(w->flush());
  }
  Store store;
  std::string warning, error;
  ASSERT_TRUE(load_capture(path, store, warning, error)) << error;
  EXPECT_EQ(warning, "");
  ASSERT_EQ(store.size(), 4u);
  EXPECT_EQ(store.entry(2).peer, 1u);
  // finish() was called; the file ends without a closing record right after the request.
  EXPECT_EQ(codes(store.findings(3)), Codes{FindingCode::NoReplyYet});

  // Cut the last record in half: the earlier ones survive, with a warning.
  std::ifstream in(path, std::ios::binary);
  std::vector<char> all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string cut_path = dir / "cut.pcap";
  std::ofstream(cut_path, std::ios::binary)
      .write(all.data(), static_cast<std::streamsize>(all.size() - 10));
  Store cut;
  std::string w2, e2;
  ASSERT_TRUE(load_capture(cut_path, cut, w2, e2)) << e2;
  EXPECT_EQ(cut.size(), 3u);
  EXPECT_NE(w2.find("truncated"), std::string::npos) << w2;
}

TEST(RecordQueue, HandsRecordsFromAProducerThread) {
  RecordQueue queue;
  Store store;
  constexpr int kRecords = 2000;
  std::thread producer([&] {
    RecordMaker m;
    queue.on_record(m.connect());
    for (int i = 1; i < kRecords; ++i) queue.push(m.to_backend(message("SET_OWNER", kReq, {})));
    queue.close();
  });
  for (int rounds = 0; rounds < 10000; ++rounds) {
    if (!queue.wait(1000) && queue.closed()) break;
    queue.drain(store);
  }
  producer.join();
  queue.drain(store);
  EXPECT_EQ(store.size(), static_cast<size_t>(kRecords));
  EXPECT_EQ(queue.dropped(), 0u);
  EXPECT_FALSE(queue.wait(0));
}

TEST(RecordQueue, DropsWhenTheConsumerFallsBehindAndSaysSo) {
  RecordMaker m;
  Record big = m.to_backend(message("SET_OWNER", kReq, {}));
  big.bytes.resize(1000);
  RecordQueue queue(2500 + 2 * sizeof(Record));  // room for two of them
  for (int i = 0; i < 5; ++i) queue.on_record(big);
  EXPECT_EQ(queue.dropped(), 3u);
  Store store;
  EXPECT_EQ(queue.drain(store), 3u);  // two records + the gap note
  ASSERT_EQ(store.size(), 3u);
  EXPECT_EQ(store.entry(2).kind, RecordKind::Error);
  EXPECT_EQ(store.text(2), "3 records not shown: the viewer fell behind the live capture");
  // After the note, records flow again.
  queue.on_record(big);
  EXPECT_EQ(queue.drain(store), 1u);
  EXPECT_EQ(queue.dropped(), 3u);
}

}  // namespace
}  // namespace vhs
