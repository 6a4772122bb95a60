// The append-only model every presenter reads (CLI now, GUI later). One ingest path for live and
// loaded captures: append(Record) decodes the message with its session's context, feeds the
// session's analyser and appends one entry per record. Entries are compact and carry no
// formatted text; decoded messages and strings are produced lazily on request. Storage is
// chunked: spans and pointers handed out stay valid for the store's lifetime.
//
// Memory per record is what bounds the size of a capture one can open: every record costs a
// 24-byte index entry; only messages (and the few other records with fds or findings) add a
// detail entry; the record bytes are either copied into the store (live, pipes) or read where a
// memory-mapped capture file holds them (load_capture of a regular file).
//
// Thread model: a Store is single-threaded (owned by one consumer thread, e.g. the GUI's). A live
// producer (the proxy thread) hands records through a RecordQueue, which the consumer drains
// into the store between frames.
#pragma once

#include <array>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "captures/format/record.hpp"
#include "captures/model/chunked_storage.hpp"
#include "captures/model/ring_timeline.hpp"
#include "decoders/conformance/checker.hpp"
#include "decoders/session/session.hpp"
#include "decoders/vhost_user/fd_info.hpp"
#include "decoders/vhost_user/findings.hpp"
#include "decoders/vhost_user/message.hpp"

namespace vhs {

inline constexpr uint32_t kNoEntry = UINT32_MAX;

class MappedCapture;

// One record as the store describes it (Store::entry assembles it from the compact index).
// Entry index == record index in ingest (file) order.
struct StoreEntry {
  uint64_t timestamp_ns = 0;
  uint64_t latency_ns = 0;  // replies/acks: time since the request; 0 otherwise
  uint32_t bytes_size = 0;  // the bytes themselves: Store::bytes(); fds: Store::fds()
  uint16_t fd_count = 0;
  uint16_t record_flags = 0;          // kRecordFdsTruncated, ...
  uint32_t session = 0;               // record.session (the id, not an index)
  uint32_t session_index = 0;         // index into Store::sessions()
  uint32_t peer = kNoEntry;           // request <-> its reply/ack
  Header header;                      // valid when header_complete
  const RequestInfo* info = nullptr;  // registry row; nullptr for unknown requests / non-messages
  RecordKind kind = RecordKind::Message;
  Direction direction = Direction::ToBackend;
  Channel channel = Channel::Frontend;
  MessageRole role = MessageRole::Request;
  ReplyExpectation expects = ReplyExpectation::None;
  Severity worst = Severity::Info;  // meaningful only when has_findings
  bool has_findings = false;
  bool header_complete = false;

  bool is_message() const { return kind == RecordKind::Message; }
};

// One vhost-user session (a front-end connection) as seen by the store.
// Interposed notifications (record --interpose-notify) of one queue of a session.
struct NotifyTotals {
  std::array<uint64_t, 3> relayed{};  // kick, call, err: counter values written on
  uint64_t held = 0;
  uint64_t records = 0;
};

struct StoreSession {
  uint32_t id = 0;  // record.session
  uint32_t first_entry = kNoEntry;
  uint32_t last_entry = kNoEntry;
  uint32_t connect_entry = kNoEntry;     // the front-end channel's Connect record, if seen
  uint32_t disconnect_entry = kNoEntry;  // the front-end channel's Disconnect record, if seen
  // The socket the front-end connected on, from the Connect record's note ("front-end ... connected
  // on 'PATH'"); empty when unknown. A later session on the same path is a reconnect.
  std::string frontend_path;
  uint64_t entries = 0;
  // Its Notify records, counted on ingest so a summary need not read them again.
  std::map<uint16_t, NotifyTotals> notify_totals;  // by queue
  uint64_t notify_undecodable = 0;
  SessionAnalyser analyser;
  // The session's RingState records: newest snapshot per queue and ring hang episodes. Each
  // episode is also a finding on the snapshot entry it is about; its detail says how it ended.
  RingTimeline rings;
  std::vector<std::pair<uint32_t, uint32_t>>
      ring_findings;  // internal: episode -> (entry, finding)
  // internal: the vring notifier facts last fed to `rings` (sorted by queue) and the analyser's
  // change count they reflect, so facts are re-derived only when a message changed them.
  std::vector<VringFacts> vring_facts;
  uint64_t vring_facts_version = 0;
  // The conformance checker fed on ingest (Store::Options::check_conformance), with the messages
  // as decoded there: a summary then needs no second pass that decodes every message again.
  std::optional<ConformanceChecker> checker;

  bool ended() const { return disconnect_entry != kNoEntry; }
  const SessionState& state() const { return analyser.state(); }
};

struct SeverityCounts {
  uint64_t info = 0, warning = 0, error = 0;
};

class Store final : public RecordSink {
 public:
  struct Options {
    DeviceKind device = DeviceKind::Unknown;  // forced device kind; Unknown = infer per session
    // Run the conformance checker on ingest (StoreSession::checker) for the consumers that read
    // violations of every session (summary, check, report): the same result as replaying the
    // session afterwards (check_store_session), without decoding each message twice.
    bool check_conformance = false;
  };

  Store() : Store(Options{}) {}
  explicit Store(Options options);
  // Entries point into the store's own chunks: a copy would alias them, a move keeps them valid.
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;
  Store(Store&&) noexcept = default;
  Store& operator=(Store&&) noexcept = default;

  // The ingest path. Never fails: malformed records become entries with findings.
  void append(const Record& record);
  void on_record(const Record& record) override { append(record); }
  // The same for a record whose bytes stay where they are for the store's lifetime (in the
  // mapped capture given to attach()): only its fd descriptions are copied.
  void append_stable(const RecordView& record);
  // Keeps the mapped capture that stable records point into alive as long as the store. Reading
  // records' bytes then moves a window over the mapping: pages far behind the reads are handed
  // back to the kernel, so a pass over a big capture does not keep all of it resident.
  void attach(std::shared_ptr<MappedCapture> mapping);

  // End of input (file fully loaded, or live capture stopped): sessions still open are finished
  // at `end_timestamp_ns` (0 = last record's timestamp); their waiting requests get Unanswered
  // findings. Sessions ended by a Disconnect were finished then.
  void finish(uint64_t end_timestamp_ns = 0);

  // Live only: time passes without records (a frozen ring is silent), so ring stalls of open
  // sessions can be raised at `now_ns` (CLOCK_REALTIME, like record timestamps). True when a ring
  // finding was raised (possibly on an older entry).
  bool advance_time(uint64_t now_ns);

  size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  // Assembled on each call (a value, not a reference into the store).
  StoreEntry entry(size_t i) const;
  // Single fields for scans, without assembling a StoreEntry.
  RecordKind kind(size_t i) const { return entries_[i].kind; }
  uint32_t session_index(size_t i) const {
    const uint16_t narrow = entries_[i].session_index;
    return narrow != kWide ? narrow : wide_sessions_.at(static_cast<uint32_t>(i));
  }
  uint64_t timestamp(size_t i) const { return entries_[i].timestamp_ns(); }

  // Raw record content (valid for the store's lifetime).
  std::span<const uint8_t> bytes(size_t i) const;
  std::span<const FdInfo> fds(size_t i) const;
  std::string_view text(size_t i) const;  // Connect/Disconnect/Error note
  // Decoder + analyser findings of entry i (analyser findings about it may arrive later, e.g.
  // Unanswered at finish()).
  std::span<const Finding> findings(size_t i) const;

  // The RingState sample of entry i, its oldest buffer read as the session's device (the
  // user's --device, or the device recognised so far) when the record kept the raw chain heads.
  // nullopt (reason in *error) when the entry is not a RingState record or is not understood.
  std::optional<RingSnapshot> ring_snapshot(size_t i, std::string* error = nullptr) const;

  // Decodes entry i again (cheap; used for display). The context has the protocol features as
  // they were when the message arrived and the session's current device kind.
  DecodedMessage decoded(size_t i) const;
  DecodeContext context(size_t i) const;

  const std::vector<StoreSession>& sessions() const { return sessions_; }
  const StoreSession* find_session(uint32_t id) const;
  const StoreSession& session_of(size_t i) const { return sessions_[session_index(i)]; }

  // RAM the per-record tables use (index + details), for benchmarks.
  size_t index_bytes() const;

  // Entries that carry at least one finding, in entry order (a "next finding" list).
  std::span<const uint32_t> flagged() const { return flagged_; }
  SeverityCounts severity_counts() const;

  uint64_t first_timestamp() const {
    return entries_.empty() ? 0 : entries_.front().timestamp_ns();
  }
  uint64_t last_timestamp() const { return entries_.empty() ? 0 : entries_.back().timestamp_ns(); }

 private:
  // What every record costs: where its bytes are, when, which session, and a few bits. 24 bytes:
  // the timestamp is kept as two 32-bit halves so the entry needs only 4-byte alignment, the
  // bytes' address as a 32-bit distance from its chunk's first record (records that follow each
  // other in a mapped file are close; a record too far away, e.g. a live record copied into
  // another arena chunk, keeps its address in far_bytes_), and the size and session index in
  // 16 bits (the rare record of 64 KiB or more, and the records of a capture's 65535th session
  // and later, keep theirs in wide_sizes_ / wide_sessions_).
  struct IndexEntry {
    uint32_t timestamp_low = 0, timestamp_high = 0;
    int32_t bytes_offset = 0;  // from chunk_bases_[entry's chunk]; kFarBytes: see far_bytes_
    uint32_t detail = kNoEntry;  // index into details_; kNoEntry: the record has none
    uint16_t bytes_size = 0;     // kWide: see wide_sizes_
    uint16_t session_index = 0;  // index into sessions_; kWide: see wide_sessions_
    uint16_t record_flags = 0;
    RecordKind kind = RecordKind::Message;
    uint8_t bits = 0;  // kToFrontendBit, kBackendChannelBit, kFlaggedBit, worst << kWorstShift

    uint64_t timestamp_ns() const { return uint64_t{timestamp_high} << 32 | timestamp_low; }
  };
  static_assert(sizeof(IndexEntry) == 24);
  static constexpr uint16_t kWide = UINT16_MAX;
  static constexpr int32_t kFarBytes = INT32_MIN;
  static constexpr uint8_t kToFrontendBit = 0x1, kBackendChannelBit = 0x2, kFlaggedBit = 0x4;
  static constexpr unsigned kWorstShift = 3;
  // 2^19 entries of 24 bytes are exactly 6 huge pages (chunked_storage.hpp): a chunk of 2^16 was
  // below the huge-page threshold, and its page faults were a sixth of a big load.
  static constexpr unsigned kIndexChunkBits = 19;
  // What only some records have: messages (header, pairing, latency, decode context) and records
  // with fds or findings. 40 bytes: the registry row is found again from the header (as
  // decode_message finds it) and the fd descriptions are a run number.
  struct EntryDetail {
    uint64_t latency_ns = 0;
    Header header;
    uint32_t peer = kNoEntry;
    uint32_t findings = kNoEntry;  // index of the entry's finding list
    uint32_t context = 0;          // index of the DecodeContext used on ingest
    uint32_t fds = kNoEntry;       // index into fd_run_list_; kNoEntry: none
    MessageRole role = MessageRole::Request;
    ReplyExpectation expects = ReplyExpectation::None;
    bool header_complete = false;
  };
  static_assert(sizeof(EntryDetail) == 40);
  static constexpr unsigned kDetailChunkBits = 18;  // 2^18 * 40 bytes: exactly 5 huge pages

  void ingest(const RecordView& record);
  EntryDetail& detail_of(uint32_t entry);  // creates it on first use
  StoreSession& session_for(const RecordView& record, uint32_t entry_index);
  // A new session's front-end Connect: a reconnect on the path of an earlier session inherits its
  // device.
  void on_frontend_connect(StoreSession& session, std::string_view note);
  void add_finding(uint32_t entry, Finding finding);
  void apply_attributed(std::vector<AttributedFinding>& found);
  // Adds the findings of newly raised ring episodes and rewrites those of ended ones.
  void sync_ring_findings(StoreSession& session, std::span<const size_t> changed,
                          uint32_t fallback_entry);
  // The session is over: active episodes' findings say how long they had lasted by `end_ns`.
  void close_ring_findings(StoreSession& session);
  // Feeds the session's changed vring facts (started, kick, call) to its ring timeline.
  void feed_vring_facts(StoreSession& session, uint64_t ts_ns, uint32_t entry);
  uint32_t intern_context(const DecodeContext& ctx);
  // The stored copy of a record's fd descriptions. Runs repeat (the same eventfds are passed
  // again when a ring restarts or its notifiers are interposed), so identical runs share one
  // copy, up to kMaxInternedFdRuns distinct runs; later new runs are stored as they come.
  // Returns the run's index in fd_run_list_ (kNoEntry for no fds).
  uint32_t intern_fds(std::span<const FdInfo> run);
  // Where entry i's bytes are, from its chunk's base and its offset.
  const uint8_t* bytes_address(size_t i) const;
  uint32_t bytes_size(size_t i) const;
  void set_bytes_address(IndexEntry& e, uint32_t index, const uint8_t* at);
  static constexpr size_t kMaxInternedFdRuns = size_t{1} << 16;

  Options options_;
  ChunkedVector<IndexEntry, kIndexChunkBits> entries_;
  std::vector<const uint8_t*> chunk_bases_;  // per chunk of entries_: its first record's bytes
  std::unordered_map<uint32_t, const uint8_t*> far_bytes_;  // entries whose bytes_offset is kFarBytes
  std::unordered_map<uint32_t, uint32_t> wide_sizes_;     // entries whose bytes_size is kWide
  std::unordered_map<uint32_t, uint32_t> wide_sessions_;  // entries whose session_index is kWide
  ChunkedVector<EntryDetail, kDetailChunkBits> details_;
  std::vector<std::shared_ptr<MappedCapture>> mappings_;
  RunArena<uint8_t, size_t{1} << 20> byte_arena_;
  RunArena<FdInfo, 4096> fd_arena_;
  std::unordered_map<uint64_t, uint32_t> fd_runs_;  // content hash -> index in fd_run_list_
  std::vector<std::span<const FdInfo>> fd_run_list_;
  std::vector<std::vector<Finding>> finding_lists_;
  std::vector<uint32_t> flagged_;  // sorted, unique
  std::vector<DecodeContext> contexts_;
  std::vector<StoreSession> sessions_;
  std::unordered_map<uint32_t, uint32_t> latest_session_;  // record.session -> its newest session
  size_t last_session_ = SIZE_MAX;                          // the session of the last record
  std::vector<size_t> ring_changed_;  // scratch
};

// The front-end socket path named by a Connect note ("front-end (pid 7) connected on '/run/x.sock';
// ..."), empty when the note names none.
std::string frontend_path_of(std::string_view note);

// Reads a whole capture file into `store` (then store.finish()). false + `error` when the file
// cannot be opened ("cannot open capture 'x': No such file or directory"); a truncated tail sets
// `warning` and keeps what was read (returns true). `label` names the file in the message printed
// when a mapped capture can no longer be read (mapping_fault.hpp): already escaped by the caller.
bool load_capture(const std::string& path, Store& store, std::string& warning, std::string& error,
                  const std::string& label = {});

// Thread-safe hand-over from a live producer to the store's thread. The producer's on_record()
// only takes a short lock to append; it never waits for the consumer. When the consumer falls
// more than `max_bytes` behind, records are dropped and counted; the next drain() inserts an
// Error record saying how many were lost, so the gap is visible in the model.
class RecordQueue final : public RecordSink {
 public:
  explicit RecordQueue(size_t max_bytes = size_t{256} << 20);

  void on_record(const Record& record) override;  // producer side (copies)
  void push(Record&& record);                     // producer side (moves)
  void close();                                   // producer: no more records

  // Consumer side: moves everything queued into `store`; returns how many records were appended.
  size_t drain(Store& store);
  // Consumer side: blocks up to `timeout_ms` until records are queued or the queue is closed.
  // true when there is something to drain.
  bool wait(int timeout_ms);
  bool closed() const;
  uint64_t dropped() const;  // total records lost so far

 private:
  Record gap_record();  // the Error record announcing dropped records; call with mutex_ held

  mutable std::mutex mutex_;
  std::condition_variable ready_;
  std::vector<Record> queued_;
  size_t queued_bytes_ = 0;
  size_t max_bytes_;
  uint64_t dropped_total_ = 0;
  uint64_t dropped_unreported_ = 0;
  uint64_t last_timestamp_ = 0;
  uint32_t last_session_ = 0;
  bool closed_ = false;
  std::vector<Record> batch_;  // consumer-only scratch, swapped with queued_
};

}  // namespace vhs
