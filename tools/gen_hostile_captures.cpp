// gen_hostile_captures: writes the hostile capture set (tests/data/hostile/*.pcap), small
// captures of what a broken or malicious peer, or a damaged file, puts in front of the decoders:
// truncated messages, payload sizes wrong for their kind, unknown request numbers on both
// channels, bad header flags, fds where none belong or missing where one is required, replies
// nobody asked for, size fields over the relay cap, undecodable ring samples, hostile text,
// a cut file and an empty one. Each file is one class of damage, so a change in how the CLI
// reports it shows up in the golden files of that file alone.
//
// Byte-for-byte reproducible: fixed timestamps, fixed fd descriptions, no randomness. The golden
// test regenerates the set and compares it with the checked-in files.
//
//   gen_hostile_captures OUT_DIR        (scripts/update-golden.sh passes tests/data/hostile)
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <iterator>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "captures/format/capture_file.hpp"
#include "decoders/vhost_user/registry.hpp"
#include "decoders/vhost_user/wire.hpp"
#include "tools/payload_bytes.hpp"

namespace {

using vhs::Channel;
using vhs::Direction;
using vhs::FdInfo;
using vhs::FdKind;
using vhs::Record;
using vhs::RecordKind;
using vhs::tools::Bytes;
using vhs::tools::put32;
using vhs::tools::put64;
using vhs::tools::u64;
using vhs::tools::vring_state;

// Header flag words (spec "Message Specification": version 1 in bits 0-1, REPLY bit 2,
// NEED_REPLY bit 3, the rest reserved).
constexpr uint32_t kRequestFlags = vhs::kProtocolVersion;
constexpr uint32_t kNeedReplyFlags = vhs::kProtocolVersion | vhs::kFlagNeedReply;
constexpr uint32_t kReplyFlags = vhs::kProtocolVersion | vhs::kFlagReply;

constexpr uint64_t kStartNs = 1'767'225'600'000'000'000ull;  // 2026-01-01 00:00:00 UTC
constexpr uint64_t kStepNs = 100'000;                        // 100 µs between records

Bytes vring_addr(uint32_t index, uint64_t desc, uint64_t used, uint64_t avail) {
  Bytes b;
  put32(b, index);
  put32(b, 0);
  put64(b, desc);
  put64(b, used);
  put64(b, avail);
  put64(b, 0);  // log
  return b;
}
Bytes region(uint64_t gpa, uint64_t size, uint64_t uva, uint64_t offset) {
  Bytes b;
  put64(b, gpa);
  put64(b, size);
  put64(b, uva);
  put64(b, offset);
  return b;
}
Bytes mem_table(uint32_t declared_regions, const std::vector<Bytes>& regions) {
  Bytes b;
  put32(b, declared_regions);
  put32(b, 0);
  for (const Bytes& r : regions) b.insert(b.end(), r.begin(), r.end());
  return b;
}
Bytes join(Bytes a, const Bytes& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}
Bytes text_bytes(std::string_view s) { return {s.begin(), s.end()}; }
uint64_t bit(unsigned b) { return uint64_t{1} << b; }

uint32_t code(std::string_view name) {
  const vhs::RequestInfo* info = vhs::find_request_by_name(name);
  if (info == nullptr) {
    std::fprintf(stderr, "gen_hostile_captures: the registry has no request %.*s\n",
                 static_cast<int>(name.size()), name.data());
    std::exit(1);
  }
  return info->number;
}

// A whole message as it crossed the socket; `size` overrides the header's size field.
Bytes frame(uint32_t request, uint32_t flags, const Bytes& payload, uint32_t size) {
  Bytes b;
  put32(b, request);
  put32(b, flags);
  put32(b, size);
  b.insert(b.end(), payload.begin(), payload.end());
  return b;
}
Bytes frame(uint32_t request, uint32_t flags, const Bytes& payload = {}) {
  return frame(request, flags, payload, static_cast<uint32_t>(payload.size()));
}

FdInfo eventfd(uint64_t inode) { return {FdKind::Eventfd, inode, 0, "anon_inode:[eventfd]"}; }
FdInfo memfd(uint64_t size) { return {FdKind::Memfd, 9000, size, "memfd:pc.ram"}; }
FdInfo socket_fd() { return {FdKind::Socket, 7001, 0, "socket:[7001]"}; }

// What the simulated back-end offers: VERSION_1, PROTOCOL_FEATURES and the blk basics; protocol
// MQ, REPLY_ACK, BACKEND_REQ, CONFIG.
const uint64_t kOffered = bit(32) | bit(30) | bit(1) | bit(2) | bit(6) | bit(9);
const uint64_t kProtocolOffered = bit(0) | bit(3) | bit(5) | bit(9);

// Records of one capture, in order, each kStepNs after the one before.
class Script {
 public:
  void session(uint32_t id) { session_ = id; }

  void note(RecordKind kind, Direction dir, Channel ch, std::string_view text, uint16_t flags = 0) {
    add(kind, dir, ch, text_bytes(text), {}, flags);
  }
  void connect(std::string_view text = "front-end connected: hostile capture set") {
    note(RecordKind::Connect, Direction::ToBackend, Channel::Frontend, text);
  }
  void disconnect(std::string_view text = "front-end closed the connection",
                  Direction dir = Direction::ToBackend, uint16_t flags = 0) {
    note(RecordKind::Disconnect, dir, Channel::Frontend, text, flags);
  }
  void error(std::string_view text, Direction dir = Direction::ToBackend) {
    note(RecordKind::Error, dir, Channel::Frontend, text);
  }

  // Raw bytes as sent by the channel's request sender (`to_requester` false) or its answerer.
  void sent(Channel ch, bool to_requester, Bytes bytes, std::vector<FdInfo> fds = {},
            uint16_t flags = 0) {
    Direction dir = vhs::request_direction(ch);
    if (to_requester)
      dir = dir == Direction::ToBackend ? Direction::ToFrontend : Direction::ToBackend;
    add(RecordKind::Message, dir, ch, std::move(bytes), std::move(fds), flags);
  }
  void request(std::string_view name, const Bytes& payload = {}, uint32_t flags = kRequestFlags,
               std::vector<FdInfo> fds = {}, Channel ch = Channel::Frontend) {
    sent(ch, false, frame(code(name), flags, payload), std::move(fds));
  }
  void reply(std::string_view name, const Bytes& payload, uint32_t flags = kReplyFlags,
             std::vector<FdInfo> fds = {}, Channel ch = Channel::Frontend) {
    sent(ch, true, frame(code(name), flags, payload), std::move(fds));
  }
  void acked(std::string_view name, const Bytes& payload = {}, std::vector<FdInfo> fds = {}) {
    request(name, payload, kNeedReplyFlags, std::move(fds));
    reply(name, u64(0));
  }

  // The usual opening (spec "Front-end message types"): features, protocol features, owner, the
  // back-end channel, and the device started with one queue of 256 in one 1 GiB region.
  void negotiate() {
    request("GET_FEATURES");
    reply("GET_FEATURES", u64(kOffered));
    request("GET_PROTOCOL_FEATURES");
    reply("GET_PROTOCOL_FEATURES", u64(kProtocolOffered));
    request("SET_PROTOCOL_FEATURES", u64(kProtocolOffered));
    request("GET_QUEUE_NUM");
    reply("GET_QUEUE_NUM", u64(1));
    request("SET_OWNER");
    acked("SET_BACKEND_REQ_FD", {}, {socket_fd()});
    note(RecordKind::Connect, Direction::ToBackend, Channel::Backend,
         "back-end channel interposed");
    acked("SET_FEATURES", u64(bit(32) | bit(30) | bit(9)));
    acked("SET_MEM_TABLE", mem_table(1, {region(0, 1ull << 30, 0x7f0000000000, 0)}),
          {memfd(1ull << 30)});
  }

  const std::vector<Record>& records() const { return records_; }

 private:
  void add(RecordKind kind, Direction dir, Channel ch, Bytes bytes, std::vector<FdInfo> fds,
           uint16_t flags) {
    Record r;
    r.kind = kind;
    r.direction = dir;
    r.channel = ch;
    r.flags = flags;
    r.session = session_;
    r.timestamp_ns = kStartNs + kStepNs * records_.size();
    r.fds = std::move(fds);
    r.bytes = std::move(bytes);
    records_.push_back(std::move(r));
  }

  uint32_t session_ = 1;
  std::vector<Record> records_;
};

// ------------------------------------------------------------------------------ the set

// A peer closed its socket mid-message (the recorder's kRecordIncomplete record and its Error
// note): first the back-end inside a reply header, then the front-end inside a payload.
Script truncated_message() {
  Script s;
  s.connect();
  s.request("GET_FEATURES");
  Bytes cut = frame(code("GET_FEATURES"), kReplyFlags, u64(kOffered));
  cut.resize(5);
  s.sent(Channel::Frontend, true, cut, {}, vhs::kRecordIncomplete);
  s.error("back-end closed the connection mid-message (got 5 of 12 header bytes)",
          Direction::ToFrontend);
  s.disconnect("back-end closed the connection", Direction::ToFrontend);

  s.session(2);
  s.connect();
  s.negotiate();
  Bytes addr = frame(code("SET_VRING_ADDR"), kRequestFlags,
                     vring_addr(0, 0x7f0000100000, 0x7f0000102000, 0x7f0000101000));
  addr.resize(vhs::kHeaderSize + 16);
  s.sent(Channel::Frontend, false, addr, {}, vhs::kRecordIncomplete);
  s.error(
      "front-end closed the connection mid-message (got SET_VRING_ADDR: 16 of 40 payload bytes)");
  s.disconnect();
  return s;
}

// Header sizes that do not fit the request's payload kind (spec "Message Specification"),
// both directions and both channels, and bytes after the declared payload.
Script wrong_payload_sizes() {
  Script s;
  s.connect();
  s.request("GET_FEATURES");
  s.reply("GET_FEATURES", Bytes{0x02, 0x02, 0, 0});  // u64 reply with 4 bytes
  s.request("GET_PROTOCOL_FEATURES");
  s.reply("GET_PROTOCOL_FEATURES", u64(kProtocolOffered));
  s.request("SET_PROTOCOL_FEATURES", u64(kProtocolOffered));
  s.request("SET_OWNER", u64(0));                   // takes no payload
  s.request("SET_FEATURES", Bytes{0, 0, 0, 0x40});  // u64 with 4 bytes
  // Two regions declared, one present.
  s.acked("SET_MEM_TABLE", mem_table(2, {region(0, 1ull << 30, 0x7f0000000000, 0)}),
          {memfd(1ull << 30), memfd(1ull << 30)});
  Bytes num = vring_state(0, 256);
  put32(num, 0);
  s.request("SET_VRING_NUM", num);  // vring state with 12 bytes
  Bytes addr = vring_addr(0, 0x7f0000100000, 0x7f0000102000, 0x7f0000101000);
  addr.resize(32);
  s.request("SET_VRING_ADDR", addr);  // 40-byte vring address with 32
  s.request("GET_VRING_BASE", vring_state(0, 0));
  s.reply("GET_VRING_BASE", {});  // vring state reply with no payload
  // The record holds 16 payload bytes but the header declares 8: trailing bytes.
  s.sent(Channel::Frontend, false,
         frame(code("SET_VRING_BASE"), kRequestFlags, join(u64(0), u64(0xdeadbeef)), 8));
  // The back-end channel: a vring-state message with 4 bytes.
  s.request("BACKEND_VRING_CALL", Bytes{0, 0, 0, 0}, kRequestFlags, {}, Channel::Backend);
  s.disconnect();
  return s;
}

// Request numbers no table knows: VHOST_USER_NONE (0), numbers past the end of both channels'
// tables, and a back-end channel number that exists only on the front-end channel.
Script unknown_requests() {
  Script s;
  s.connect();
  s.negotiate();
  s.sent(Channel::Frontend, false, frame(0, kRequestFlags));
  s.sent(Channel::Frontend, false, frame(200, kNeedReplyFlags, u64(1)));
  s.sent(Channel::Frontend, true, frame(200, kReplyFlags, u64(0)));
  s.sent(Channel::Frontend, false, frame(0x7fffffff, kRequestFlags, vring_state(0, 1)));
  s.sent(Channel::Backend, false, frame(0, kRequestFlags));
  s.sent(Channel::Backend, false, frame(99, kNeedReplyFlags, u64(7)));
  s.sent(Channel::Backend, true, frame(99, kReplyFlags, u64(0)));
  s.sent(Channel::Backend, false,
         frame(code("SET_VRING_ENABLE"), kRequestFlags, vring_state(0, 1)));
  s.disconnect();
  return s;
}

// Header flags (spec "Message Specification"): a request carrying the reply bit, reserved bits,
// versions other than 1, and replies whose flags are not exactly 0x5.
Script bad_flags() {
  Script s;
  s.connect();
  s.negotiate();
  s.sent(Channel::Frontend, false,
         frame(code("GET_QUEUE_NUM"), kReplyFlags));  // REPLY on a request
  s.reply("GET_QUEUE_NUM", u64(1));
  s.request("SET_VRING_NUM", vring_state(0, 256), kRequestFlags | 0x100);       // reserved bit 8
  s.request("SET_VRING_BASE", vring_state(0, 0), 0x0);                          // version 0
  s.request("SET_VRING_ENABLE", vring_state(0, 0), 0x2);                        // version 2
  s.request("SET_VRING_ENABLE", vring_state(0, 1), 0x3 | vhs::kFlagNeedReply);  // version 3
  s.reply("SET_VRING_ENABLE", u64(0));
  s.request("GET_VRING_BASE", vring_state(0, 0));
  s.reply("GET_VRING_BASE", vring_state(0, 0), kReplyFlags | vhs::kFlagNeedReply);
  s.request("GET_FEATURES");
  s.reply("GET_FEATURES", u64(kOffered), vhs::kFlagReply);  // version 0 on a reply
  s.request("GET_PROTOCOL_FEATURES");
  s.reply("GET_PROTOCOL_FEATURES", u64(kProtocolOffered), kReplyFlags | 0x80000000u);
  s.request("BACKEND_CONFIG_CHANGE_MSG", {}, kNeedReplyFlags | 0x10, {}, Channel::Backend);
  s.reply("BACKEND_CONFIG_CHANGE_MSG", u64(0), kReplyFlags, {}, Channel::Backend);
  s.disconnect();
  return s;
}

// fds on messages whose kind takes none, and more fds than a rule allows (spec "Front-end
// message types" says per request which fds travel).
Script unexpected_fds() {
  Script s;
  s.connect();
  s.request("GET_FEATURES", {}, kRequestFlags, {eventfd(41)});
  s.reply("GET_FEATURES", u64(kOffered), kReplyFlags, {eventfd(42)});
  s.request("GET_PROTOCOL_FEATURES");
  s.reply("GET_PROTOCOL_FEATURES", u64(kProtocolOffered));
  s.request("SET_PROTOCOL_FEATURES", u64(kProtocolOffered));
  s.request("SET_OWNER", {}, kRequestFlags, {memfd(4096)});
  s.acked("SET_MEM_TABLE", mem_table(1, {region(0, 1ull << 30, 0x7f0000000000, 0)}),
          {memfd(1ull << 30), memfd(1ull << 30)});
  s.request("SET_VRING_NUM", vring_state(0, 256), kRequestFlags, {eventfd(43)});
  s.request("SET_VRING_KICK", u64(0x100), kRequestFlags, {eventfd(44)});  // NOFD set, fd sent
  s.request("BACKEND_CONFIG_CHANGE_MSG", {}, kRequestFlags, {eventfd(45)}, Channel::Backend);
  s.disconnect();
  return s;
}

// Required fds that did not arrive, and a message whose fds the kernel dropped (MSG_CTRUNC,
// recorded with kRecordFdsTruncated).
Script missing_fds() {
  Script s;
  s.connect();
  s.request("GET_FEATURES");
  s.reply("GET_FEATURES", u64(kOffered));
  s.request("GET_PROTOCOL_FEATURES");
  s.reply("GET_PROTOCOL_FEATURES", u64(kProtocolOffered));
  s.request("SET_PROTOCOL_FEATURES", u64(kProtocolOffered));
  s.acked("SET_BACKEND_REQ_FD");
  s.acked("SET_MEM_TABLE",
          mem_table(2, {region(0, 1ull << 30, 0x7f0000000000, 0),
                        region(4ull << 30, 1ull << 30, 0x7f0040000000, 1ull << 30)}),
          {memfd(2ull << 30)});
  s.request("SET_VRING_KICK", u64(0));  // NOFD clear, no fd
  s.request("SET_VRING_CALL", u64(0));
  s.sent(Channel::Frontend, false, frame(code("SET_VRING_ERR"), kRequestFlags, u64(0)), {},
         vhs::kRecordFdsTruncated);
  s.disconnect();
  return s;
}

// Answers nobody asked for: a reply with no request outstanding, an ack for a request that did
// not set NEED_REPLY, a reply naming another request than the one waiting, a second reply, and
// an unsolicited ack on the back-end channel.
Script reply_without_request() {
  Script s;
  s.connect();
  s.negotiate();
  s.reply("GET_VRING_BASE", vring_state(0, 17));
  s.request("SET_VRING_ENABLE", vring_state(0, 1));
  s.reply("SET_VRING_ENABLE", u64(0));
  s.request("GET_QUEUE_NUM");
  s.reply("GET_CONFIG", u64(1));
  s.request("GET_FEATURES");
  s.reply("GET_FEATURES", u64(kOffered));
  s.reply("GET_FEATURES", u64(kOffered));
  s.reply("BACKEND_CONFIG_CHANGE_MSG", u64(0), kReplyFlags, {}, Channel::Backend);
  s.disconnect();
  return s;
}

// Size fields over the relay cap (4096, the largest any known peer accepts): the recorder keeps
// the header, does not relay it and closes the session, as proxy/relay_messages.cpp does. The
// second session's header is garbage altogether (version 0, absurd request number).
Script oversized_size_field() {
  Script s;
  s.connect();
  s.negotiate();
  s.sent(Channel::Frontend, false, frame(code("SET_MEM_TABLE"), kNeedReplyFlags, {}, 0xffffffffu),
         {}, vhs::kRecordNotRelayed);
  s.error(
      "front-end sent SET_MEM_TABLE with size 4294967295 > 4096 (cap); cannot relay safely, "
      "closing session");
  s.disconnect(
      "proxy closed the session: front-end sent SET_MEM_TABLE with size 4294967295 > 4096 (cap); "
      "cannot relay safely, closing session",
      Direction::ToBackend, vhs::kRecordClosedByProxy);

  s.session(2);
  s.connect();
  s.request("GET_FEATURES");
  s.sent(Channel::Frontend, true, frame(0x6d6f6f62, 0x74697277, {}, 4097), {},
         vhs::kRecordNotRelayed);
  s.error(
      "back-end sent garbage (request 0x6d6f6f62, flags 0x74697277: version 3, not 1) with size "
      "4097 > 4096 (cap); cannot relay safely, closing session",
      Direction::ToFrontend);
  s.disconnect(
      "proxy closed the session: back-end sent garbage (request 0x6d6f6f62, flags 0x74697277: "
      "version 3, not 1) with size 4097 > 4096 (cap); cannot relay safely, closing session",
      Direction::ToFrontend, vhs::kRecordClosedByProxy);
  return s;
}

// Session rules broken with well-formed messages: requests before negotiation, features acked
// that were never offered, vring indices past the queue count, addresses outside the memory
// table, and a disconnect while a request waits.
Script bad_session_values() {
  Script s;
  s.connect();
  s.request("SET_VRING_NUM", vring_state(0, 256));  // before any negotiation
  s.request("GET_FEATURES");
  s.reply("GET_FEATURES", u64(kOffered));
  s.request("GET_PROTOCOL_FEATURES");
  s.reply("GET_PROTOCOL_FEATURES", u64(kProtocolOffered));
  s.request("SET_PROTOCOL_FEATURES", u64(kProtocolOffered | bit(15)));  // not offered
  s.request("GET_QUEUE_NUM");
  s.reply("GET_QUEUE_NUM", u64(1));
  s.request("SET_OWNER");
  s.acked("SET_FEATURES", u64(bit(32) | bit(30) | bit(34)));  // RING_PACKED not offered
  s.acked("SET_MEM_TABLE", mem_table(1, {region(0, 1ull << 30, 0x7f0000000000, 0)}),
          {memfd(1ull << 30)});
  s.acked("SET_VRING_NUM", vring_state(300, 256));                   // queue 300 of 1
  s.acked("SET_VRING_ADDR", vring_addr(0, 0x1000, 0x3000, 0x2000));  // not in the table
  s.request("SET_VRING_ENABLE", vring_state(0, 1), kNeedReplyFlags);
  s.reply("SET_VRING_ENABLE", u64(1));  // refused
  s.request("GET_VRING_BASE", vring_state(0, 0));
  s.disconnect("back-end closed the connection", Direction::ToFrontend);
  return s;
}

// RingState and Notify records (written by the recorder, not by peers) that do not decode: empty,
// too short, and the right length of garbage.
Script undecodable_samples() {
  Script s;
  s.connect();
  s.negotiate();
  s.note(RecordKind::RingState, Direction::ToBackend, Channel::Frontend, "");
  s.note(RecordKind::RingState, Direction::ToBackend, Channel::Frontend, "xyz");
  s.note(RecordKind::RingState, Direction::ToBackend, Channel::Frontend, std::string(64, '\xff'));
  s.note(RecordKind::Notify, Direction::ToBackend, Channel::Frontend, "");
  s.note(RecordKind::Notify, Direction::ToFrontend, Channel::Frontend, std::string(24, '\xff'));
  s.disconnect();
  return s;
}

// Text from peers that a terminal, a Markdown renderer or the GUI would act on, everywhere a
// capture carries text: notes (connect, error, disconnect), fd names (a memfd's name is whatever
// the front-end passed to memfd_create) and a virtio-fs tag in GET_CONFIG. Each holds C0 controls
// (ESC sequences, BEL, CR, NUL, TAB), C1 controls both as a raw byte (0x9b, the 8-bit CSI: some
// terminals act on it like ESC [) and as UTF-8 (U+009B), invalid UTF-8, a bidi override and
// Markdown/HTML that would change a report's rendering.
Script hostile_text() {
  Script s;
  constexpr char kNote[] =
      "evil\nfront-end \x1b[31mred\x1b[0m \"quoted\" \\ \xff\xfe \x9b"
      "2J \xc2\x9b"
      "2J \xe2\x80\xae"
      "desrever\0end";
  // Markdown that would break a report's table or inject HTML, then an OSC title change.
  constexpr char kMarkdown[] =
      "| x | y |\n# heading\n- item <script>alert(1)</script> **bold** _em_ `code` "
      "[link](http://example.com) &lt; 1. \x1b]0;owned\x07";
  const FdInfo hostile_memfd{vhs::FdKind::Memfd, 9000, 1ull << 30,
                             "memfd:\x1b[2J\x07pc.ram\n| x | <script>"};
  const FdInfo hostile_socket{vhs::FdKind::Socket, 7001, 0, "socket:[7001]\x1b[1A\r\xc2\x85"};
  s.connect(std::string_view(kNote, sizeof kNote - 1));
  s.request("GET_FEATURES");
  s.reply("GET_FEATURES", u64(kOffered));
  s.request("GET_PROTOCOL_FEATURES");
  s.reply("GET_PROTOCOL_FEATURES", u64(kProtocolOffered));
  s.request("SET_PROTOCOL_FEATURES", u64(kProtocolOffered));
  s.acked("SET_BACKEND_REQ_FD", {}, {hostile_socket});
  s.acked("SET_MEM_TABLE", mem_table(1, {region(0, 1ull << 30, 0x7f0000000000, 0)}),
          {hostile_memfd});
  // virtio-fs config (spec "Device configuration space" of virtio-fs: a 36-byte NUL-padded tag,
  // then num_request_queues): first a plain tag, so the device is inferred as fs, then a hostile
  // one.
  for (std::string_view tag :
       {std::string_view("myfs"), std::string_view("tag\x9b\xc2\x9b\xe2\x80\xae|x|<b>*\xff")}) {
    Bytes config;
    put32(config, 0);   // offset
    put32(config, 40);  // size
    put32(config, 0);   // flags
    Bytes payload = config;
    payload.resize(12 + 40, 0);
    s.request("GET_CONFIG", payload);
    for (size_t i = 0; i < tag.size() && i < 36; ++i)
      payload[12 + i] = static_cast<uint8_t>(tag[i]);
    payload[12 + 36] = 1;  // one request queue
    s.reply("GET_CONFIG", payload);
  }
  s.error(std::string_view(kMarkdown, sizeof kMarkdown - 1));
  s.error(std::string(300, 'A'));
  s.disconnect("closed\r\nby\tpeer\x7f");
  return s;
}

// A healthy start whose file ends in the middle of a record (a recorder killed mid-write).
Script cut_file() {
  Script s;
  s.connect();
  s.negotiate();
  return s;
}

using Writer = std::function<Script()>;

struct HostileCapture {
  const char* name;
  Writer script;
  size_t cut_bytes;  // bytes removed from the end of the file
};

bool write_capture(const std::string& path, const Script& script, size_t cut_bytes) {
  std::string error;
  auto writer = vhs::CaptureWriter::create(path, error);
  if (!writer) {
    std::fprintf(stderr, "gen_hostile_captures: %s\n", error.c_str());
    return false;
  }
  for (const Record& r : script.records()) writer->write(r);
  if (!writer->flush()) {
    std::fprintf(stderr, "gen_hostile_captures: %s\n", writer->error().c_str());
    return false;
  }
  writer.reset();
  if (cut_bytes > 0) {
    std::error_code ec;
    const auto size = std::filesystem::file_size(path, ec);
    if (!ec) std::filesystem::resize_file(path, size - cut_bytes, ec);
    if (ec) {
      std::fprintf(stderr, "gen_hostile_captures: cannot cut '%s': %s\n", path.c_str(),
                   ec.message().c_str());
      return false;
    }
  }
  // Checked into git: readable like the other test data (the writer creates captures 0600).
  std::error_code ec;
  std::filesystem::permissions(path, std::filesystem::perms(0644), ec);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2 || argv[1][0] == '-') {
    std::fprintf(stderr,
                 "usage: gen_hostile_captures OUT_DIR\n"
                 "  writes the hostile capture set (one small .pcap per class of damage)\n");
    return 2;
  }
  const std::filesystem::path dir = argv[1];
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    std::fprintf(stderr, "gen_hostile_captures: cannot create '%s': %s\n", argv[1],
                 ec.message().c_str());
    return 1;
  }
  const HostileCapture set[] = {
      {"bad-flags", bad_flags, 0},
      {"bad-session-values", bad_session_values, 0},
      {"cut-file", cut_file, 7},
      {"empty", [] { return Script{}; }, 0},
      {"hostile-text", hostile_text, 0},
      {"missing-fds", missing_fds, 0},
      {"oversized-size-field", oversized_size_field, 0},
      {"reply-without-request", reply_without_request, 0},
      {"truncated-message", truncated_message, 0},
      {"undecodable-samples", undecodable_samples, 0},
      {"unexpected-fds", unexpected_fds, 0},
      {"unknown-requests", unknown_requests, 0},
      {"wrong-payload-sizes", wrong_payload_sizes, 0},
  };
  for (const HostileCapture& c : set) {
    const std::string path = (dir / (std::string(c.name) + ".pcap")).string();
    if (!write_capture(path, c.script(), c.cut_bytes)) return 1;
  }
  std::printf("gen_hostile_captures: %zu captures written to %s\n", std::size(set), argv[1]);
  return 0;
}
