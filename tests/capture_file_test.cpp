// Capture file format: pcap/pcapng round trips, the pseudo-header byte layout, and how the reader
// treats truncated, corrupt, foreign, missing and empty files.
#include <fcntl.h>
#include <pcap/pcap.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "captures/format/capture_file.hpp"
#include "captures/format/pseudo_header.hpp"
#include "captures/format/record.hpp"

namespace vhs {
namespace {

namespace fs = std::filesystem;

// A fresh directory per test, removed afterwards.
class CaptureFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "vhs-capture-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr) << std::strerror(errno);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  fs::path dir_;
};

std::vector<uint8_t> u8(std::initializer_list<int> v) {
  std::vector<uint8_t> out;
  for (int b : v) out.push_back(static_cast<uint8_t>(b));
  return out;
}

std::vector<uint8_t> text_bytes(std::string_view s) { return {s.begin(), s.end()}; }

// SET_FEATURES (2), flags 0x9 (version 1 + NEED_REPLY), size 8, features 0x1'0000'0000.
std::vector<uint8_t> set_features_msg() {
  return u8({2, 0, 0, 0, 9, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0});
}

// One record of every kind, with varied fields and fds (one with an empty name).
std::vector<Record> sample_records() {
  std::vector<Record> rs;
  Record r;

  r.kind = RecordKind::Connect;
  r.direction = Direction::ToBackend;
  r.channel = Channel::Frontend;
  r.session = 1;
  r.timestamp_ns = 1'700'000'000'123'456'789ULL;
  r.bytes = text_bytes("frontend pid 4242 on /tmp/vhost.sock");
  rs.push_back(r);

  r = Record{};
  r.kind = RecordKind::Message;
  r.session = 1;
  r.timestamp_ns = 1'700'000'000'123'456'790ULL;
  // SET_MEM_TABLE (5) with one region and its memfd.
  r.bytes = u8({5, 0, 0, 0, 1, 0, 0, 0, 40, 0, 0, 0});
  r.bytes.resize(12 + 40, 0xab);
  r.fds.push_back({FdKind::Memfd, 123456789012ULL, 0x4000'0000ULL, "memfd:pc.ram"});
  rs.push_back(r);

  r = Record{};
  r.kind = RecordKind::Message;
  r.direction = Direction::ToFrontend;
  r.channel = Channel::Backend;
  r.flags = kRecordFdsTruncated | kRecordInjected;
  r.session = 7;
  r.timestamp_ns = 999'999'999ULL;
  r.bytes = set_features_msg();
  r.fds.push_back({FdKind::Eventfd, 42, 0, "anon_inode:[eventfd]"});
  r.fds.push_back({FdKind::Pipe, 0xffff'ffff'ffff'ffffULL, 0, ""});
  rs.push_back(r);

  r = Record{};
  r.kind = RecordKind::Error;
  r.session = 7;
  r.flags = kRecordNotRelayed;
  r.timestamp_ns = 0;
  r.bytes = text_bytes("payload size 65536 exceeds relay cap 4096 — not relayed");
  rs.push_back(r);

  r = Record{};
  r.kind = RecordKind::RingState;
  r.session = 7;
  r.timestamp_ns = 1'800'000'000'000'000'001ULL;
  r.bytes = u8({0, 1, 2, 3, 4, 5, 6, 7});
  rs.push_back(r);

  r = Record{};
  r.kind = RecordKind::Notify;
  r.direction = Direction::ToFrontend;
  r.session = 7;
  r.timestamp_ns = 1'800'000'000'000'000'002ULL;
  rs.push_back(r);  // empty bytes

  r = Record{};
  r.kind = RecordKind::Disconnect;
  r.direction = Direction::ToFrontend;
  r.session = 7;
  r.timestamp_ns = 1'800'000'000'999'999'999ULL;
  r.bytes = text_bytes("back-end closed the connection");
  rs.push_back(r);
  return rs;
}

void expect_same(const Record& want, const Record& got, size_t i) {
  SCOPED_TRACE("record index " + std::to_string(i));
  EXPECT_EQ(static_cast<int>(want.kind), static_cast<int>(got.kind));
  EXPECT_EQ(static_cast<int>(want.direction), static_cast<int>(got.direction));
  EXPECT_EQ(static_cast<int>(want.channel), static_cast<int>(got.channel));
  EXPECT_EQ(want.flags, got.flags);
  EXPECT_EQ(want.session, got.session);
  EXPECT_EQ(want.timestamp_ns, got.timestamp_ns);
  EXPECT_EQ(want.fds, got.fds);
  EXPECT_EQ(want.bytes, got.bytes);
}

void write_all(const std::string& file, const std::vector<Record>& rs) {
  std::string error;
  auto w = CaptureWriter::create(file, error);
  ASSERT_NE(w, nullptr) << error;
  for (const Record& r : rs) w->write(r);
  ASSERT_TRUE(w->flush()) << w->error();
  EXPECT_EQ(w->records_written(), rs.size());
}

struct ReadResult {
  std::vector<Record> records;
  std::string warning;
};

ReadResult read_all(const std::string& file) {
  ReadResult res;
  std::string error;
  auto r = CaptureReader::open(file, error);
  EXPECT_NE(r, nullptr) << error;
  if (!r) return res;
  Record rec;
  while (r->next(rec)) res.records.push_back(rec);
  EXPECT_FALSE(r->next(rec)) << "next() after the end must stay false";
  EXPECT_EQ(r->records_read(), res.records.size());
  res.warning = r->warning();
  return res;
}

std::vector<uint8_t> slurp(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void spit(const std::string& file, const std::vector<uint8_t>& bytes) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
}

constexpr size_t kPcapFileHeader = 24;
constexpr size_t kPcapRecordHeader = 16;

// File offset of packet `n` (0-based) in a classic pcap written from `rs`.
size_t packet_offset(const std::vector<Record>& rs, size_t n) {
  size_t off = kPcapFileHeader;
  for (size_t i = 0; i < n; ++i) {
    std::vector<uint8_t> p;
    encode_packet(rs[i], p);
    off += kPcapRecordHeader + p.size();
  }
  return off + kPcapRecordHeader;
}

TEST_F(CaptureFileTest, RoundTripsEveryRecordKindWithFds) {
  const auto rs = sample_records();
  write_all(path("a.pcap"), rs);
  const ReadResult got = read_all(path("a.pcap"));
  EXPECT_EQ(got.warning, "");
  ASSERT_EQ(got.records.size(), rs.size());
  for (size_t i = 0; i < rs.size(); ++i) expect_same(rs[i], got.records[i], i);
  // Every kind appears, so every kind round-tripped.
  EXPECT_EQ(got.records[0].text(), "frontend pid 4242 on /tmp/vhost.sock");
  EXPECT_EQ(got.records[1].fds.at(0).name, "memfd:pc.ram");
  EXPECT_EQ(got.records[1].fds.at(0).size, 0x4000'0000ULL);
  EXPECT_EQ(got.records[2].fds.at(1).inode, 0xffff'ffff'ffff'ffffULL);
}

TEST_F(CaptureFileTest, FileHeaderIsNanosecondPcapWithUser0AndFileIsPrivate) {
  write_all(path("a.pcap"), sample_records());
  const auto bytes = slurp(path("a.pcap"));
  ASSERT_GE(bytes.size(), kPcapFileHeader);
  // Nanosecond pcap magic a1b23c4d, written in host (little) endian.
  EXPECT_EQ(std::vector<uint8_t>(bytes.begin(), bytes.begin() + 4), u8({0x4d, 0x3c, 0xb2, 0xa1}));
  uint32_t snaplen = 0, linktype = 0;
  std::memcpy(&snaplen, bytes.data() + 16, 4);
  std::memcpy(&linktype, bytes.data() + 20, 4);
  EXPECT_EQ(snaplen, 262144u);
  EXPECT_EQ(linktype, 147u);
  // First packet: ts_sec, ts_nsec of 1'700'000'000.123456789.
  uint32_t sec = 0, nsec = 0;
  std::memcpy(&sec, bytes.data() + 24, 4);
  std::memcpy(&nsec, bytes.data() + 28, 4);
  EXPECT_EQ(sec, 1'700'000'000u);
  EXPECT_EQ(nsec, 123'456'789u);

  struct stat st {};
  ASSERT_EQ(::stat(path("a.pcap").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(CaptureFileTest, OverwritingAnOpenFileTightensItsMode) {
  spit(path("a.pcap"), text_bytes("old"));
  ASSERT_EQ(::chmod(path("a.pcap").c_str(), 0644), 0);
  write_all(path("a.pcap"), sample_records());
  struct stat st {};
  ASSERT_EQ(::stat(path("a.pcap").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(read_all(path("a.pcap")).records.size(), sample_records().size());
}

TEST_F(CaptureFileTest, PseudoHeaderBytesMatchTheDocumentedLayout) {
  Record r;
  r.kind = RecordKind::Message;
  r.direction = Direction::ToFrontend;
  r.channel = Channel::Backend;
  r.flags = kRecordFdsTruncated;
  r.session = 0x01020304;
  r.bytes = set_features_msg();
  r.fds.push_back({FdKind::Eventfd, 0x1122334455667788ULL, 0x10, "ab"});
  std::vector<uint8_t> p;
  encode_packet(r, p);
  const auto want = u8({
      'V',  'H',  'S',  'R',  1,    1,    24,   0,  // magic, version, kind, header_len
      1,    1,    1,    0,                          // direction, channel, flags
      4,    3,    2,    1,                          // session
      1,    0,    0,    0,                          // fd_count, reserved
      20,   0,    0,    0,                          // data_len
      26,   0,    2,    0,    2,    0,    0,    0,  // desc_len, kind, reserved, name_len, reserved
      0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11,  // inode
      0x10, 0,    0,    0,    0,    0,    0,    0,     // size
      'a',  'b',                                       // name
      2,    0,    0,    0,    9,    0,    0,    0,    8, 0,
      0,    0,    0,    0,    0,    0,    1,    0,    0, 0,  // the message
  });
  EXPECT_EQ(p, want);
}

TEST_F(CaptureFileTest, NanosecondTimestampsSurviveExactly) {
  std::vector<Record> rs;
  for (uint64_t ts : {0ULL, 1ULL, 999'999'999ULL, 1'000'000'000ULL, 1'712'345'678'000'000'001ULL,
                      4'294'967'295'999'999'999ULL /* last second a classic pcap can hold */}) {
    Record r;
    r.kind = RecordKind::Message;
    r.bytes = set_features_msg();
    r.timestamp_ns = ts;
    rs.push_back(r);
  }
  write_all(path("ts.pcap"), rs);
  const ReadResult got = read_all(path("ts.pcap"));
  ASSERT_EQ(got.records.size(), rs.size());
  for (size_t i = 0; i < rs.size(); ++i) EXPECT_EQ(got.records[i].timestamp_ns, rs[i].timestamp_ns);
}

TEST_F(CaptureFileTest, TruncatedMidRecordReadsTheWholeRecordsThenWarns) {
  const auto rs = sample_records();
  write_all(path("t.pcap"), rs);
  const auto size = fs::file_size(path("t.pcap"));
  // Cut 3 bytes into the last record's data.
  fs::resize_file(path("t.pcap"), size - 3);
  const ReadResult got = read_all(path("t.pcap"));
  ASSERT_EQ(got.records.size(), rs.size() - 1);
  for (size_t i = 0; i + 1 < rs.size(); ++i) expect_same(rs[i], got.records[i], i);
  EXPECT_EQ(got.warning.rfind("capture truncated after record 6: ", 0), 0u) << got.warning;
  EXPECT_NE(got.warning.find("truncated"), std::string::npos);
}

TEST_F(CaptureFileTest, TruncatedInsideAPacketHeaderAlsoWarns) {
  const auto rs = sample_records();
  write_all(path("t.pcap"), rs);
  // Keep 2 whole records and 5 bytes of the third packet's 16-byte pcap header.
  fs::resize_file(path("t.pcap"), packet_offset(rs, 2) - kPcapRecordHeader + 5);
  const ReadResult got = read_all(path("t.pcap"));
  ASSERT_EQ(got.records.size(), 2u);
  EXPECT_EQ(got.warning.rfind("capture truncated after record 2: ", 0), 0u) << got.warning;
}

TEST_F(CaptureFileTest, BadMagicStopsWithAWarningNamingTheRecord) {
  const auto rs = sample_records();
  write_all(path("c.pcap"), rs);
  auto bytes = slurp(path("c.pcap"));
  bytes[packet_offset(rs, 2)] = 'X';  // third record's magic
  spit(path("c.pcap"), bytes);
  const ReadResult got = read_all(path("c.pcap"));
  ASSERT_EQ(got.records.size(), 2u);
  EXPECT_EQ(got.warning,
            "record 3 is corrupt: bad pseudo-header magic 58 48 53 52 (expected 56 48 53 52, "
            "\"VHSR\"); stopped reading there");
}

TEST_F(CaptureFileTest, FdNameLengthPastThePacketEndIsCorrupt) {
  const auto rs = sample_records();
  write_all(path("c.pcap"), rs);
  auto bytes = slurp(path("c.pcap"));
  // Record 2 (index 1) has one fd; its name_len sits at header 24 + 4.
  const size_t name_len_at =
      packet_offset(rs, 1) + kPseudoHeaderFixedSize + fd_desc_offset::kNameLen;
  bytes[name_len_at] = 0xff;
  bytes[name_len_at + 1] = 0xff;
  spit(path("c.pcap"), bytes);
  const ReadResult got = read_all(path("c.pcap"));
  ASSERT_EQ(got.records.size(), 1u);
  EXPECT_EQ(got.warning,
            "record 2 is corrupt: fd description 1 of 1 has length 36 (name 65535 bytes), 88 bytes "
            "remain; stopped reading there");
}

TEST_F(CaptureFileTest, HeaderLengthAndDataLengthAreChecked) {
  const auto rs = sample_records();
  write_all(path("c.pcap"), rs);
  const auto good = slurp(path("c.pcap"));

  auto bytes = good;
  bytes[packet_offset(rs, 0) + pseudo_header_offset::kHeaderLen] = 0xf0;  // 240 > packet
  spit(path("c.pcap"), bytes);
  ReadResult got = read_all(path("c.pcap"));
  EXPECT_EQ(got.records.size(), 0u);
  EXPECT_EQ(got.warning.rfind("record 1 is corrupt: pseudo-header length 240 outside 24..60", 0),
            0u)
      << got.warning;

  bytes = good;
  bytes[packet_offset(rs, 0) + pseudo_header_offset::kDataLen] += 1;
  spit(path("c.pcap"), bytes);
  got = read_all(path("c.pcap"));
  EXPECT_EQ(got.records.size(), 0u);
  EXPECT_EQ(got.warning,
            "record 1 is corrupt: record bytes: pseudo-header says 37, packet holds 36; stopped "
            "reading there");

  bytes = good;
  bytes[packet_offset(rs, 0) + pseudo_header_offset::kVersion] = 2;
  spit(path("c.pcap"), bytes);
  got = read_all(path("c.pcap"));
  EXPECT_EQ(got.warning,
            "record 1 is corrupt: pseudo-header version 2, this reader understands version 1; "
            "stopped reading there");
}

TEST_F(CaptureFileTest, LongerHeaderAndFdDescriptionsFromANewerWriterAreSkipped) {
  // A future writer appends 4 bytes to the fixed header and 3 after the fd name.
  Record r = sample_records()[1];
  std::vector<uint8_t> p;
  encode_packet(r, p);
  std::vector<uint8_t> grown(p.begin(), p.begin() + kPseudoHeaderFixedSize);
  grown.insert(grown.end(), {0xee, 0xee, 0xee, 0xee});
  grown[pseudo_header_offset::kHeaderLen] = kPseudoHeaderFixedSize + 4;
  const size_t desc_len = kFdDescFixedSize + r.fds[0].name.size();
  std::vector<uint8_t> desc(
      p.begin() + kPseudoHeaderFixedSize,
      p.begin() + static_cast<std::ptrdiff_t>(kPseudoHeaderFixedSize + desc_len));
  desc.insert(desc.end(), {0xdd, 0xdd, 0xdd});
  desc[fd_desc_offset::kDescLen] = static_cast<uint8_t>(desc_len + 3);
  grown.insert(grown.end(), desc.begin(), desc.end());
  grown.insert(grown.end(), r.bytes.begin(), r.bytes.end());

  Record out;
  std::string why;
  ASSERT_EQ(decode_packet(grown, false, out, why), PacketStatus::Ok) << why;
  out.timestamp_ns = r.timestamp_ns;
  expect_same(r, out, 0);
}

TEST_F(CaptureFileTest, UnknownRecordKindsAreSkipped) {
  const auto rs = sample_records();
  write_all(path("k.pcap"), rs);
  auto bytes = slurp(path("k.pcap"));
  bytes[packet_offset(rs, 1) + pseudo_header_offset::kKind] = 99;
  spit(path("k.pcap"), bytes);
  const ReadResult got = read_all(path("k.pcap"));
  EXPECT_EQ(got.warning, "");
  ASSERT_EQ(got.records.size(), rs.size() - 1);
  expect_same(rs[0], got.records[0], 0);
  expect_same(rs[2], got.records[1], 2);
}

TEST_F(CaptureFileTest, SnaplenCutRecordIsFlaggedIncomplete) {
  // Written with libpcap directly: caplen 5 bytes short of len.
  Record r = sample_records()[2];
  std::vector<uint8_t> p;
  encode_packet(r, p);
  pcap_t* dead = pcap_open_dead_with_tstamp_precision(147, 262144, PCAP_TSTAMP_PRECISION_NANO);
  ASSERT_NE(dead, nullptr);
  pcap_dumper_t* d = pcap_dump_open(dead, path("s.pcap").c_str());
  ASSERT_NE(d, nullptr) << pcap_geterr(dead);
  pcap_pkthdr h{};
  h.ts.tv_sec = 5;
  h.ts.tv_usec = 6;
  h.len = static_cast<bpf_u_int32>(p.size());
  h.caplen = h.len - 5;
  pcap_dump(reinterpret_cast<u_char*>(d), &h, p.data());
  pcap_dump_close(d);
  pcap_close(dead);

  const ReadResult got = read_all(path("s.pcap"));
  EXPECT_EQ(got.warning, "");
  ASSERT_EQ(got.records.size(), 1u);
  EXPECT_EQ(got.records[0].flags, r.flags | kRecordIncomplete);
  EXPECT_EQ(got.records[0].timestamp_ns, 5'000'000'006ULL);
  EXPECT_EQ(got.records[0].fds, r.fds);
  EXPECT_EQ(got.records[0].bytes, std::vector<uint8_t>(r.bytes.begin(), r.bytes.end() - 5));
}

TEST_F(CaptureFileTest, ForeignLinkTypeIsRejected) {
  pcap_t* dead = pcap_open_dead(DLT_EN10MB, 65535);
  ASSERT_NE(dead, nullptr);
  pcap_dumper_t* d = pcap_dump_open(dead, path("eth.pcap").c_str());
  ASSERT_NE(d, nullptr) << pcap_geterr(dead);
  const auto frame = u8({0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 1, 2, 3, 4, 5, 0x08, 0x06});
  pcap_pkthdr h{};
  h.caplen = h.len = static_cast<bpf_u_int32>(frame.size());
  pcap_dump(reinterpret_cast<u_char*>(d), &h, frame.data());
  pcap_dump_close(d);
  pcap_close(dead);

  std::string error;
  EXPECT_EQ(CaptureReader::open(path("eth.pcap"), error), nullptr);
  EXPECT_EQ(error, fmt::format("'{}' is not a vhostscope capture: link type 1 (EN10MB), expected "
                               "147 (USER0)",
                               path("eth.pcap")));
}

// Minimal little-endian pcapng writer for the test: SHB, one IDB, EPBs.
class PcapngBuilder {
 public:
  PcapngBuilder() {
    // Section Header Block: byte-order magic, version 1.0, section length unknown (-1).
    std::vector<uint8_t> body;
    put32(body, 0x1a2b3c4d);
    put16(body, 1);
    put16(body, 0);
    put32(body, 0xffffffff);
    put32(body, 0xffffffff);
    block(0x0a0d0d0a, body);
  }
  void interface(uint16_t linktype, bool nanoseconds) {
    std::vector<uint8_t> body;
    put16(body, linktype);
    put16(body, 0);
    put32(body, 0);  // snaplen: no limit
    if (nanoseconds) {
      put16(body, 9);  // if_tsresol
      put16(body, 1);
      body.insert(body.end(), {9, 0, 0, 0});  // 10^-9, padded to 4
      put16(body, 0);                         // opt_endofopt
      put16(body, 0);
    }
    block(1, body);
  }
  void packet(uint64_t ts, const std::vector<uint8_t>& data) {
    std::vector<uint8_t> body;
    put32(body, 0);  // interface id
    put32(body, static_cast<uint32_t>(ts >> 32));
    put32(body, static_cast<uint32_t>(ts));
    put32(body, static_cast<uint32_t>(data.size()));
    put32(body, static_cast<uint32_t>(data.size()));
    body.insert(body.end(), data.begin(), data.end());
    while (body.size() % 4 != 0) body.push_back(0);
    block(6, body);
  }
  const std::vector<uint8_t>& bytes() const { return out_; }

 private:
  static void put16(std::vector<uint8_t>& v, uint16_t x) {
    v.push_back(static_cast<uint8_t>(x));
    v.push_back(static_cast<uint8_t>(x >> 8));
  }
  static void put32(std::vector<uint8_t>& v, uint32_t x) {
    for (int i = 0; i < 4; ++i) v.push_back(static_cast<uint8_t>(x >> (8 * i)));
  }
  void block(uint32_t type, const std::vector<uint8_t>& body) {
    const auto total = static_cast<uint32_t>(12 + body.size());
    put32(out_, type);
    put32(out_, total);
    out_.insert(out_.end(), body.begin(), body.end());
    put32(out_, total);
  }
  std::vector<uint8_t> out_;
};

TEST_F(CaptureFileTest, PcapngWithUser0AndNanosecondResolutionReadsTheSameRecords) {
  const auto rs = sample_records();
  PcapngBuilder b;
  b.interface(147, true);
  for (const Record& r : rs) {
    std::vector<uint8_t> p;
    encode_packet(r, p);
    b.packet(r.timestamp_ns, p);
  }
  spit(path("a.pcapng"), b.bytes());
  const ReadResult got = read_all(path("a.pcapng"));
  EXPECT_EQ(got.warning, "");
  ASSERT_EQ(got.records.size(), rs.size());
  for (size_t i = 0; i < rs.size(); ++i) expect_same(rs[i], got.records[i], i);
}

TEST_F(CaptureFileTest, PcapngWithAnotherLinkTypeIsRejected) {
  PcapngBuilder b;
  b.interface(1, false);
  spit(path("eth.pcapng"), b.bytes());
  std::string error;
  EXPECT_EQ(CaptureReader::open(path("eth.pcapng"), error), nullptr);
  EXPECT_EQ(error, fmt::format("'{}' is not a vhostscope capture: link type 1 (EN10MB), expected "
                               "147 (USER0)",
                               path("eth.pcapng")));
}

TEST_F(CaptureFileTest, MissingFileErrorNamesTheFileAndTheReason) {
  std::string error;
  EXPECT_EQ(CaptureReader::open(path("nope.pcap"), error), nullptr);
  EXPECT_EQ(error, "cannot open capture '" + path("nope.pcap") + "': No such file or directory");
}

TEST_F(CaptureFileTest, NonPcapFileIsRejected) {
  spit(path("notes.txt"), text_bytes("this is not a capture, just some text\n"));
  std::string error;
  EXPECT_EQ(CaptureReader::open(path("notes.txt"), error), nullptr);
  EXPECT_EQ(error.rfind("cannot read capture '" + path("notes.txt") + "': ", 0), 0u) << error;
  EXPECT_NE(error.find("unknown file format"), std::string::npos) << error;
}

TEST_F(CaptureFileTest, EmptyCaptureHasNoRecordsAndNoWarning) {
  write_all(path("empty.pcap"), {});
  EXPECT_EQ(fs::file_size(path("empty.pcap")), kPcapFileHeader);
  const ReadResult got = read_all(path("empty.pcap"));
  EXPECT_EQ(got.records.size(), 0u);
  EXPECT_EQ(got.warning, "");
}

TEST_F(CaptureFileTest, CreateInAMissingDirectoryFails) {
  std::string error;
  EXPECT_EQ(CaptureWriter::create(path("no/such/dir.pcap"), error), nullptr);
  EXPECT_EQ(error,
            "cannot write '" + path("no/such/dir.pcap") + "': No such file or directory");
}

// A write error (disk full, file size limit) is reported by flush, and the first one stays.
// The file size limit stands in for a full disk: it fails write(2) the same way, in a child so
// the limit does not leak into other tests.
TEST_F(CaptureFileTest, WriteErrorIsReportedByFlush) {
  const std::string file = path("limited.pcap");
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::signal(SIGXFSZ, SIG_IGN);
    const rlimit limit{4096, 4096};
    ::setrlimit(RLIMIT_FSIZE, &limit);
    std::string error;
    auto w = CaptureWriter::create(file, error);
    if (w == nullptr) ::_exit(10);
    Record big = sample_records()[1];
    big.bytes.resize(3000);
    for (int i = 0; i < 4; ++i) w->write(big);
    if (w->flush()) ::_exit(11);
    const std::string expected = "cannot write capture '" + file + "': File too large";
    if (w->error() != expected) ::_exit(12);
    w->write(big);
    if (w->flush() || w->error() != expected) ::_exit(13);
    ::_exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "10 create failed, 11 flush succeeded, 12/13 wrong error";
}

// Devices are not capture files (output_file.hpp): /dev/full is refused up front.
TEST_F(CaptureFileTest, DeviceIsRefused) {
  std::string error;
  EXPECT_EQ(CaptureWriter::create("/dev/full", error), nullptr);
  EXPECT_EQ(error, "cannot write '/dev/full': it is a character device (name a regular file)");
}

TEST_F(CaptureFileTest, ReaderReusesTheRecordAcrossDifferentShapes) {
  // Records with fewer fds / shorter bytes after bigger ones must not keep stale contents.
  auto rs = sample_records();
  write_all(path("r.pcap"), rs);
  std::string error;
  auto reader = CaptureReader::open(path("r.pcap"), error);
  ASSERT_NE(reader, nullptr) << error;
  Record rec;
  for (size_t i = 0; i < rs.size(); ++i) {
    ASSERT_TRUE(reader->next(rec));
    expect_same(rs[i], rec, i);
  }
  EXPECT_FALSE(reader->next(rec));
  EXPECT_EQ(reader->warning(), "");
}

TEST(RecordKindName, NamesEveryKind) {
  EXPECT_EQ(record_kind_name(RecordKind::Message), "message");
  EXPECT_EQ(record_kind_name(RecordKind::Connect), "connect");
  EXPECT_EQ(record_kind_name(RecordKind::Disconnect), "disconnect");
  EXPECT_EQ(record_kind_name(RecordKind::Error), "error");
  EXPECT_EQ(record_kind_name(RecordKind::RingState), "ring-state");
  EXPECT_EQ(record_kind_name(RecordKind::Notify), "notify");
  EXPECT_EQ(record_kind_name(static_cast<RecordKind>(99)), "unknown");
}

}  // namespace
}  // namespace vhs
