// The vhostuser epan dissector: registers for LINKTYPE_USER0 records that carry the vhostscope
// pseudo-header ("VHSR"), hands every record to the project's ingest path on Wireshark's first
// pass (CaptureState) and builds the tree from what the decoders say: the field tree of
// describe_fields under the public field names, the fds of the pseudo-header, request/reply
// pairing and latency from the session analyser, and every finding as expert info.
#include <array>
#include <deque>
#include <exception>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include <fmt/format.h>

#include <epan/expert.h>
#include <epan/packet.h>
#include <epan/proto.h>
#include <wiretap/wtap.h>

#include "app/common/dump_format.hpp"
#include "app/common/text_format.hpp"
#include "decoders/vhost_user/field_format.hpp"
#include "decoders/virtio/notify_record.hpp"
#include "decoders/virtio/ring_snapshot.hpp"
#include "wireshark/capture_state.hpp"
#include "wireshark/dissector.hpp"
#include "wireshark/field_catalog.hpp"

namespace vhs::wireshark {
namespace {

int proto_vhostuser = -1;
dissector_handle_t user_dlt_handle = nullptr;

// One header field of the catalog: its id and how values are added to it.
struct CatalogHf {
  int id = -1;
  int alias_id = -1;  // the short header name, -1 when none
  ValueKind kind = ValueKind::None;
};

// Registration data must outlive the protocol: Wireshark keeps pointers into it.
struct Registration {
  std::deque<std::string> strings;  // names and abbrevs (a deque never moves its elements)
  std::unique_ptr<int[]> catalog_ids;
  std::vector<hf_register_info> hf;
  std::vector<expert_field> finding_ei;  // indexed by FindingCode
  std::vector<ei_register_info> ei;
  std::unordered_map<std::string, CatalogHf> by_path;
};
Registration* reg = nullptr;

std::unique_ptr<CaptureState> state;

// Fields of the capture record and of ring-state/notify records (capture format, not the field
// tree).
int hf_record_kind = -1, hf_record_flags = -1, hf_direction = -1, hf_channel = -1, hf_session = -1,
    hf_fd_count = -1, hf_fd_kind = -1, hf_fd_inode = -1, hf_fd_size = -1, hf_fd_name = -1,
    hf_text = -1, hf_response_in = -1, hf_response_to = -1, hf_time = -1, hf_finding = -1,
    hf_unregistered = -1, hf_record = -1, hf_message = -1, hf_ring = -1, hf_notify = -1,
    hf_ring_queue = -1, hf_ring_type = -1, hf_ring_size = -1, hf_ring_avail_idx = -1,
    hf_ring_used_idx = -1, hf_ring_inflight = -1, hf_ring_pending = -1, hf_ring_head = -1,
    hf_ring_oldest = -1, hf_ring_fault = -1, hf_notify_source = -1, hf_notify_event = -1,
    hf_notify_queue = -1, hf_notify_count = -1;

int ett_vhostuser = -1, ett_record = -1, ett_message = -1, ett_field = -1, ett_fd = -1,
    ett_ring = -1;

expert_field ei_corrupt = EI_INIT;
expert_field ei_after_corrupt = EI_INIT;
expert_field ei_unknown_kind = EI_INIT;
expert_field ei_undecodable = EI_INIT;
expert_field ei_internal = EI_INIT;

const char* keep(std::string s) {
  reg->strings.push_back(std::move(s));
  return reg->strings.back().c_str();
}

hf_register_info make_hf(int* id, const char* name, const char* abbrev, ftenum type, int display,
                         const void* strings = nullptr, const char* blurb = nullptr) {
  hf_register_info r{};
  r.p_id = id;
  r.hfinfo.name = name;
  r.hfinfo.abbrev = abbrev;
  r.hfinfo.type = type;
  r.hfinfo.display = display;
  r.hfinfo.strings = strings;
  r.hfinfo.bitmask = 0;
  r.hfinfo.blurb = blurb;
  r.hfinfo.id = -1;
  r.hfinfo.parent = 0;
  r.hfinfo.ref_type = HF_REF_TYPE_NONE;
  r.hfinfo.same_name_prev_id = -1;
  r.hfinfo.same_name_next = nullptr;
  return r;
}

ei_register_info make_ei(expert_field* id, const char* abbrev, int group, int severity,
                         const char* summary) {
  ei_register_info r{};
  r.ids = id;
  r.eiinfo.name = abbrev;
  r.eiinfo.group = group;
  r.eiinfo.severity = severity;
  r.eiinfo.summary = summary;
  r.eiinfo.id = 0;
  r.eiinfo.protocol = nullptr;
  r.eiinfo.orig_severity = 0;
  r.eiinfo.hf_info = make_hf(nullptr, nullptr, nullptr, FT_NONE, BASE_NONE);
  r.eiinfo.hf_info.p_id = nullptr;
  return r;
}

ftenum field_type(ValueKind kind) {
  switch (kind) {
    case ValueKind::None: return FT_NONE;
    case ValueKind::Signed: return FT_INT64;
    case ValueKind::Bool: return FT_BOOLEAN;
    case ValueKind::Bytes: return FT_BYTES;
    case ValueKind::String: return FT_STRING;
    case ValueKind::Unsigned:
    case ValueKind::Enum:
    case ValueKind::Address:
    case ValueKind::Flags: return FT_UINT64;
  }
  return FT_NONE;
}

int field_display(ValueKind kind) {
  switch (kind) {
    case ValueKind::Unsigned:
    case ValueKind::Signed:
    case ValueKind::Enum: return BASE_DEC;
    case ValueKind::Address:
    case ValueKind::Flags: return BASE_HEX;
    case ValueKind::String: return BASE_NONE;
    default: return BASE_NONE;
  }
}

int expert_severity(Severity s) {
  switch (s) {
    case Severity::Error: return PI_ERROR;
    case Severity::Warning: return PI_WARN;
    case Severity::Info: return PI_NOTE;
  }
  return PI_NOTE;
}

void init_state() { state = std::make_unique<CaptureState>(); }
void cleanup_state() { state.reset(); }

// ---- dissection ----

uint64_t timestamp_ns(const packet_info* pinfo) {
  return static_cast<uint64_t>(pinfo->abs_ts.secs) * 1000000000u +
         static_cast<uint64_t>(pinfo->abs_ts.nsecs);
}

// Every item stays inside the captured bytes, so no tvb bounds exception can unwind through
// C++ frames.
struct Span {
  gint start = 0;
  gint length = 0;
};

class TreeWriter {
 public:
  TreeWriter(tvbuff_t* tvb, packet_info* pinfo) : tvb_(tvb), pinfo_(pinfo) {
    captured_ = static_cast<gint>(tvb_captured_length(tvb));
  }

  Span clamp(uint64_t start, uint64_t length) const {
    const uint64_t s = std::min<uint64_t>(start, static_cast<uint64_t>(captured_));
    const uint64_t l = std::min<uint64_t>(length, static_cast<uint64_t>(captured_) - s);
    return {static_cast<gint>(s), static_cast<gint>(l)};
  }

  proto_item* add_field(proto_tree* tree, const Field& f, Span at) {
    const std::string path = path_without_indices(f.path);
    const auto it = reg->by_path.find(path);
    if (it == reg->by_path.end() || it->second.kind != f.value.kind)
      return proto_tree_add_string_format(tree, hf_unregistered, tvb_, at.start, at.length,
                                          f.text.c_str(), "%s = %s", f.path.c_str(),
                                          f.text.c_str());
    proto_item* item = add_value(tree, it->second.id, f, at);
    if (it->second.alias_id >= 0)
      proto_item_set_hidden(add_value(tree, it->second.alias_id, f, at));
    return item;
  }

  tvbuff_t* tvb() const { return tvb_; }
  packet_info* pinfo() const { return pinfo_; }

 private:
  proto_item* add_value(proto_tree* tree, int hf, const Field& f, Span at) {
    const FieldValue& v = f.value;
    const char* path = f.path.c_str();
    const char* text = f.text.c_str();
    switch (v.kind) {
      case ValueKind::None:
        return proto_tree_add_none_format(tree, hf, tvb_, at.start, at.length, "%s: %s", path,
                                          text);
      case ValueKind::Signed:
        return proto_tree_add_int64_format(tree, hf, tvb_, at.start, at.length, v.as_signed(),
                                           "%s: %s", path, text);
      case ValueKind::Bool:
        return proto_tree_add_boolean_format(tree, hf, tvb_, at.start, at.length,
                                             static_cast<guint32>(v.number), "%s: %s", path, text);
      case ValueKind::Bytes: {
        proto_item* item = proto_tree_add_bytes_with_length(
            tree, hf, tvb_, at.start, at.length, v.bytes.data(), static_cast<gint>(v.bytes.size()));
        proto_item_set_text(item, "%s: %s", path, text);
        return item;
      }
      case ValueKind::String:
        return proto_tree_add_string_format(tree, hf, tvb_, at.start, at.length, v.name.c_str(),
                                            "%s: %s", path, text);
      case ValueKind::Unsigned:
      case ValueKind::Enum:
      case ValueKind::Address:
      case ValueKind::Flags:
        return proto_tree_add_uint64_format(tree, hf, tvb_, at.start, at.length, v.number, "%s: %s",
                                            path, text);
    }
    return nullptr;
  }

  tvbuff_t* tvb_;
  packet_info* pinfo_;
  gint captured_ = 0;
};

// Where the fd descriptions lie in the packet (for byte highlighting only; their values come
// from decode_packet). Offsets from docs/capture-format.md sections 3 and 4.
std::vector<Span> fd_spans(std::span<const uint8_t> packet, size_t count) {
  std::vector<Span> out;
  auto u16 = [&](size_t at) -> size_t {
    return at + 2 <= packet.size() ? size_t{packet[at]} | size_t{packet[at + 1]} << 8 : 0;
  };
  size_t at = u16(pseudo_header_offset::kHeaderLen);
  for (size_t i = 0; i < count && at < packet.size(); ++i) {
    const size_t len = u16(at + fd_desc_offset::kDescLen);
    out.push_back({static_cast<gint>(at), static_cast<gint>(std::min(len, packet.size() - at))});
    if (len == 0) break;
    at += len;
  }
  return out;
}

void add_record_fields(TreeWriter& w, proto_tree* tree, const Record& r,
                       std::span<const uint8_t> packet) {
  using namespace pseudo_header_offset;
  tvbuff_t* tvb = w.tvb();
  proto_item* top = proto_tree_add_none_format(
      tree, hf_record, tvb, 0, static_cast<gint>(std::min(packet.size(), kPseudoHeaderFixedSize)),
      "vhostscope record: %s, session %u", std::string(record_kind_name(r.kind)).c_str(),
      r.session);
  proto_tree* t = proto_item_add_subtree(top, ett_record);
  proto_tree_add_uint_format_value(t, hf_record_kind, tvb, kKind, 1, static_cast<guint32>(r.kind),
                                   "%s (%u)", std::string(record_kind_name(r.kind)).c_str(),
                                   static_cast<unsigned>(r.kind));
  proto_tree_add_uint_format_value(
      t, hf_direction, tvb, kDirection, 1, static_cast<guint32>(r.direction), "%s (%u)",
      r.direction == Direction::ToBackend ? "to the back-end" : "to the front-end",
      static_cast<unsigned>(r.direction));
  proto_tree_add_uint_format_value(
      t, hf_channel, tvb, kChannel, 1, static_cast<guint32>(r.channel), "%s (%u)",
      r.channel == Channel::Frontend ? "front-end channel" : "back-end channel",
      static_cast<unsigned>(r.channel));
  proto_tree_add_uint(t, hf_record_flags, tvb, kFlags, 2, r.flags);
  proto_tree_add_uint(t, hf_session, tvb, kSession, 4, r.session);
  proto_tree_add_uint(t, hf_fd_count, tvb, kFdCount, 2, static_cast<guint32>(r.fds.size()));
}

void add_fds(TreeWriter& w, proto_tree* tree, std::span<const FdInfo> fds,
             std::span<const uint8_t> packet) {
  const std::vector<Span> spans = fd_spans(packet, fds.size());
  for (size_t i = 0; i < fds.size(); ++i) {
    const FdInfo& fd = fds[i];
    const Span at = i < spans.size() ? spans[i] : Span{};
    Field line{fmt::format("fd[{}]", i),
               FieldValue::enumerated(static_cast<uint64_t>(fd.kind), fd_kind_name(fd.kind)),
               fmt::format("{}{}{}", fd_kind_name(fd.kind), fd.name.empty() ? "" : " ", fd.name),
               0,
               0,
               0};
    proto_item* item = w.add_field(tree, line, at);
    proto_tree* t = proto_item_add_subtree(item, ett_fd);
    tvbuff_t* tvb = w.tvb();
    const gint base = at.start;
    const bool whole = at.length >= static_cast<gint>(kFdDescFixedSize);
    proto_tree_add_uint_format_value(
        t, hf_fd_kind, tvb, whole ? base + 2 : base, whole ? 1 : 0, static_cast<guint32>(fd.kind),
        "%s (%u)", std::string(fd_kind_name(fd.kind)).c_str(), static_cast<unsigned>(fd.kind));
    proto_tree_add_uint64(t, hf_fd_inode, tvb, whole ? base + 8 : base, whole ? 8 : 0, fd.inode);
    proto_tree_add_uint64(t, hf_fd_size, tvb, whole ? base + 16 : base, whole ? 8 : 0, fd.size);
    const gint name_len =
        whole ? std::min<gint>(static_cast<gint>(fd.name.size()), at.length - 24) : 0;
    proto_tree_add_string(t, hf_fd_name, tvb, whole ? base + 24 : base, name_len, fd.name.c_str());
  }
}

void add_message_tree(TreeWriter& w, proto_tree* tree, const DecodedMessage& msg,
                      std::span<const uint8_t> bytes, std::span<const FdInfo> fds,
                      const DecodeContext& ctx, size_t message_start) {
  proto_item* top = proto_tree_add_none_format(
      tree, hf_message, w.tvb(), static_cast<gint>(message_start), static_cast<gint>(bytes.size()),
      "vhost-user message: %s", message_label(msg.channel, msg.header).c_str());
  std::array<proto_tree*, 8> parents{};
  parents[0] = proto_item_add_subtree(top, ett_message);
  for (const Field& f : describe_fields(msg, bytes, {}, ctx)) {
    const size_t depth = std::min<size_t>(f.depth, parents.size() - 2);
    proto_tree* parent = parents[depth] ? parents[depth] : parents[0];
    proto_item* item = w.add_field(parent, f, w.clamp(message_start + f.offset, f.length));
    parents[depth + 1] = proto_item_add_subtree(item, ett_field);
  }
  (void)fds;
}

void add_ring_state(TreeWriter& w, proto_tree* tree, proto_item* owner,
                    std::span<const uint8_t> bytes, size_t start, std::string& info) {
  std::string error;
  const auto snap = decode_ring_snapshot(bytes, &error);
  tvbuff_t* tvb = w.tvb();
  const Span all = w.clamp(start, bytes.size());
  if (!snap) {
    expert_add_info_format(w.pinfo(), owner, &ei_undecodable, "ring-state record: %s",
                           error.c_str());
    info = "ring-state (undecodable: " + error + ")";
    return;
  }
  info = "ring " + describe_ring_snapshot(*snap);
  proto_item* top =
      proto_tree_add_none_format(tree, hf_ring, tvb, all.start, all.length, "ring state: %s",
                                 describe_ring_snapshot(*snap).c_str());
  proto_tree* t = proto_item_add_subtree(top, ett_ring);
  proto_tree_add_uint(t, hf_ring_queue, tvb, all.start, 0, snap->queue);
  proto_tree_add_uint_format_value(t, hf_ring_type, tvb, all.start, 0,
                                   static_cast<guint32>(snap->type), "%s",
                                   std::string(ring_type_name(snap->type)).c_str());
  proto_tree_add_uint(t, hf_ring_size, tvb, all.start, 0, snap->size);
  if (snap->indices_ok) {
    proto_tree_add_uint(t, hf_ring_avail_idx, tvb, all.start, 0, snap->avail_idx);
    proto_tree_add_uint(t, hf_ring_used_idx, tvb, all.start, 0, snap->used_idx);
  }
  proto_tree_add_uint(t, hf_ring_inflight, tvb, all.start, 0, snap->inflight);
  if (snap->pending) proto_tree_add_uint(t, hf_ring_pending, tvb, all.start, 0, *snap->pending);
  for (uint16_t head : snap->heads) proto_tree_add_uint(t, hf_ring_head, tvb, all.start, 0, head);
  if (snap->oldest)
    proto_tree_add_string(t, hf_ring_oldest, tvb, all.start, 0,
                          describe_buffer(*snap->oldest).c_str());
  for (const RingFault& f : snap->faults)
    proto_tree_add_string(t, hf_ring_fault, tvb, all.start, 0,
                          fmt::format("kind {} head {} index {} value {}",
                                      static_cast<unsigned>(f.kind), f.head, f.index, f.value)
                              .c_str());
}

void add_notify(TreeWriter& w, proto_tree* tree, proto_item* owner, std::span<const uint8_t> bytes,
                size_t start, std::string& info) {
  std::string error;
  const auto n = decode_notify(bytes, &error);
  tvbuff_t* tvb = w.tvb();
  if (!n) {
    expert_add_info_format(w.pinfo(), owner, &ei_undecodable, "notify record: %s", error.c_str());
    info = "notify (undecodable: " + error + ")";
    return;
  }
  info = "notify " + describe_notify(*n);
  const gint s = static_cast<gint>(start);
  proto_item* top =
      proto_tree_add_none_format(tree, hf_notify, tvb, s, static_cast<gint>(bytes.size()),
                                 "notify: %s", describe_notify(*n).c_str());
  proto_tree* t = proto_item_add_subtree(top, ett_ring);
  proto_tree_add_uint_format_value(t, hf_notify_source, tvb, s + 1, 1,
                                   static_cast<guint32>(n->source), "%s",
                                   std::string(notify_source_name(n->source)).c_str());
  proto_tree_add_uint_format_value(t, hf_notify_event, tvb, s + 4, 1,
                                   static_cast<guint32>(n->event), "%s",
                                   std::string(notify_event_name(n->event)).c_str());
  proto_tree_add_uint(t, hf_notify_queue, tvb, s + 6, 2, n->queue);
  proto_tree_add_uint64(t, hf_notify_count, tvb, s + 8, 8, n->count);
}

// The pairing and latency the session analyser found (spec "Communication": a reply answers the
// request with the same code on the same channel).
void add_tracking(TreeWriter& w, proto_tree* tree, const Store& store, uint32_t entry) {
  const StoreEntry& e = store.entry(entry);
  if (e.peer == kNoEntry) return;
  const uint32_t peer_frame = state->frame_of_entry(e.peer);
  tvbuff_t* tvb = w.tvb();
  if (e.role == MessageRole::Request) {
    proto_item_set_generated(proto_tree_add_uint(tree, hf_response_in, tvb, 0, 0, peer_frame));
    return;
  }
  proto_item_set_generated(proto_tree_add_uint(tree, hf_response_to, tvb, 0, 0, peer_frame));
  nstime_t latency;
  latency.secs = static_cast<time_t>(e.latency_ns / 1000000000u);
  latency.nsecs = static_cast<int>(e.latency_ns % 1000000000u);
  proto_item_set_generated(proto_tree_add_time(tree, hf_time, tvb, 0, 0, &latency));
}

void add_findings(TreeWriter& w, proto_tree* tree, proto_item* top, std::span<const Finding> list) {
  for (const Finding& f : list) {
    const FindingInfo& info = finding_info(f.code);
    proto_item_set_generated(
        proto_tree_add_string(tree, hf_finding, w.tvb(), 0, 0, std::string(info.id).c_str()));
    expert_add_info_format(w.pinfo(), top, &reg->finding_ei[static_cast<size_t>(f.code)],
                           "%s (%s): %s", std::string(info.id).c_str(),
                           std::string(severity_name(f.severity())).c_str(), f.detail.c_str());
  }
}

void dissect_record(tvbuff_t* tvb, packet_info* pinfo, proto_item* top,
                    std::span<const uint8_t> packet) {
  if (!state) init_state();
  const bool captured_short = tvb_captured_length(tvb) < tvb_reported_length(tvb);
  if (!pinfo->fd->visited)
    state->ingest(pinfo->num, packet, captured_short, timestamp_ns(pinfo));
  else
    state->finish();

  col_set_str(pinfo->cinfo, COL_PROTOCOL, "vhost-user");
  TreeWriter w(tvb, pinfo);
  proto_tree* t = proto_item_add_subtree(top, ett_vhostuser);

  // The record as the project's reader decodes it.
  Record record;
  std::string why;
  const PacketStatus status = decode_packet(packet, captured_short, record, why);
  if (status == PacketStatus::Corrupt) {
    col_add_fstr(pinfo->cinfo, COL_INFO, "corrupt vhostscope record: %s", why.c_str());
    expert_add_info_format(pinfo, top, &ei_corrupt, "corrupt vhostscope record: %s", why.c_str());
    return;
  }
  add_record_fields(w, t, record, packet);
  col_set_str(pinfo->cinfo, COL_DEF_SRC,
              record.direction == Direction::ToBackend ? "front-end" : "back-end");
  col_set_str(pinfo->cinfo, COL_DEF_DST,
              record.direction == Direction::ToBackend ? "back-end" : "front-end");
  if (status == PacketStatus::UnknownKind) {
    col_add_fstr(pinfo->cinfo, COL_INFO, "record kind %u (unknown to this dissector)",
                 static_cast<unsigned>(record.kind));
    expert_add_info(pinfo, top, &ei_unknown_kind);
    return;
  }
  const size_t start = packet.size() - record.bytes.size();
  const FrameRecord* frame = state->frame(pinfo->num);
  const bool analysed = frame && frame->entry != kNoEntry;
  if (frame && frame->after_corrupt) expert_add_info(pinfo, top, &ei_after_corrupt);

  add_fds(w, t, record.fds, packet);
  std::string info;
  switch (record.kind) {
    case RecordKind::Message: {
      const Store& store = state->store();
      const DecodeContext ctx = analysed ? store.context(frame->entry) : DecodeContext{};
      const DecodedMessage msg =
          analysed ? store.decoded(frame->entry)
                   : decode_message(record.channel, record.bytes, record.fds, ctx);
      proto_item_append_text(top, ", %s", message_label(msg.channel, msg.header).c_str());
      add_message_tree(w, t, msg, record.bytes, record.fds, ctx, start);
      if (!analysed) {
        info = message_label(msg.channel, msg.header) + " " + summarize_payload(msg, ctx);
        add_findings(w, t, top, msg.findings);
      }
      break;
    }
    case RecordKind::RingState: add_ring_state(w, t, top, record.bytes, start, info); break;
    case RecordKind::Notify: add_notify(w, t, top, record.bytes, start, info); break;
    case RecordKind::Connect:
    case RecordKind::Disconnect:
    case RecordKind::Error: {
      const Span at = w.clamp(start, record.bytes.size());
      const std::string text(record.text());
      proto_tree_add_string(t, hf_text, tvb, at.start, at.length, text.c_str());
      info = std::string(record_kind_name(record.kind)) + ": " + text;
      break;
    }
  }
  if (analysed) {
    const Store& store = state->store();
    add_tracking(w, t, store, frame->entry);
    add_findings(w, t, top, store.findings(frame->entry));
    info = format_entry_body(store, frame->entry);
  }
  col_add_str(pinfo->cinfo, COL_INFO, info.c_str());
}

int dissect_vhostuser(tvbuff_t* tvb, packet_info* pinfo, proto_tree* tree, void* data) {
  const guint length = tvb_captured_length(tvb);
  // LINKTYPE_USER0 is a private-use type: claim only records with our magic, leave the rest to
  // Wireshark's DLT_USER table.
  if (length < sizeof kPseudoHeaderMagic ||
      tvb_memeql(tvb, 0, kPseudoHeaderMagic, sizeof kPseudoHeaderMagic) != 0)
    return user_dlt_handle ? call_dissector_only(user_dlt_handle, tvb, pinfo, tree, data) : 0;
  std::vector<uint8_t> packet(length);
  tvb_memcpy(tvb, packet.data(), 0, length);
  proto_item* top = proto_tree_add_item(tree, proto_vhostuser, tvb, 0, -1, ENC_NA);
  try {
    dissect_record(tvb, pinfo, top, packet);
  } catch (const std::exception& e) {
    expert_add_info_format(pinfo, top, &ei_internal, "vhostuser dissector: %s", e.what());
  }
  return static_cast<int>(length);
}

void register_catalog_fields() {
  const FieldCatalog& catalog = field_catalog();
  reg->catalog_ids = std::make_unique<int[]>(catalog.fields.size() * 2);
  for (size_t i = 0; i < catalog.fields.size(); ++i) {
    const CatalogField& f = catalog.fields[i];
    int* id = &reg->catalog_ids[2 * i];
    *id = -1;
    reg->hf.push_back(
        make_hf(id, keep(f.path), keep(f.name), field_type(f.kind), field_display(f.kind)));
    if (!f.alias.empty()) {
      int* alias = &reg->catalog_ids[2 * i + 1];
      *alias = -1;
      reg->hf.push_back(
          make_hf(alias, keep(f.path), keep(f.alias), field_type(f.kind), field_display(f.kind)));
    }
  }
}

void register_record_fields() {
  auto add = [](int* id, const char* name, std::string_view abbrev, ftenum type, int display,
                const void* strings = nullptr) {
    reg->hf.push_back(make_hf(id, name, keep(std::string(abbrev)), type, display, strings));
  };
  using namespace record_field;
  add(&hf_record_kind, "Record kind", kKind, FT_UINT8, BASE_DEC);
  add(&hf_record_flags, "Record flags", kFlags, FT_UINT16, BASE_HEX);
  add(&hf_direction, "Direction", kDirection, FT_UINT8, BASE_DEC);
  add(&hf_channel, "Channel", kChannel, FT_UINT8, BASE_DEC);
  add(&hf_session, "Session", kSession, FT_UINT32, BASE_DEC);
  add(&hf_fd_count, "Fd count", kFdCount, FT_UINT16, BASE_DEC);
  add(&hf_fd_kind, "Fd kind", kFdKind, FT_UINT8, BASE_DEC);
  add(&hf_fd_inode, "Fd inode", kFdInode, FT_UINT64, BASE_DEC);
  add(&hf_fd_size, "Fd size", kFdSize, FT_UINT64, BASE_DEC);
  add(&hf_fd_name, "Fd name", kFdName, FT_STRING, BASE_NONE);
  add(&hf_text, "Note", kText, FT_STRING, BASE_NONE);
  add(&hf_response_in, "Response in", "vhostuser.response_in", FT_FRAMENUM, BASE_NONE,
      FRAMENUM_TYPE(FT_FRAMENUM_RESPONSE));
  add(&hf_response_to, "Response to", "vhostuser.response_to", FT_FRAMENUM, BASE_NONE,
      FRAMENUM_TYPE(FT_FRAMENUM_REQUEST));
  add(&hf_time, "Time since request", "vhostuser.time", FT_RELATIVE_TIME, BASE_NONE);
  add(&hf_finding, "Finding", "vhostuser.finding", FT_STRING, BASE_NONE);
  add(&hf_unregistered, "Field", "vhostuser.other", FT_STRING, BASE_NONE);
  add(&hf_record, "vhostscope record", "vhostuser.record", FT_NONE, BASE_NONE);
  add(&hf_message, "vhost-user message", "vhostuser.message", FT_NONE, BASE_NONE);
  add(&hf_ring, "Ring state", "vhostuser.ring", FT_NONE, BASE_NONE);
  add(&hf_notify, "Notification", "vhostuser.notify", FT_NONE, BASE_NONE);
  add(&hf_ring_queue, "Queue", "vhostuser.ring.queue", FT_UINT32, BASE_DEC);
  add(&hf_ring_type, "Ring type", "vhostuser.ring.type", FT_UINT8, BASE_DEC);
  add(&hf_ring_size, "Queue size", "vhostuser.ring.size", FT_UINT16, BASE_DEC);
  add(&hf_ring_avail_idx, "Avail index", "vhostuser.ring.avail_idx", FT_UINT16, BASE_DEC);
  add(&hf_ring_used_idx, "Used index", "vhostuser.ring.used_idx", FT_UINT16, BASE_DEC);
  add(&hf_ring_inflight, "In flight", "vhostuser.ring.inflight", FT_UINT32, BASE_DEC);
  add(&hf_ring_pending, "Not yet fetched", "vhostuser.ring.pending", FT_UINT32, BASE_DEC);
  add(&hf_ring_head, "In-flight head", "vhostuser.ring.head", FT_UINT16, BASE_DEC);
  add(&hf_ring_oldest, "Oldest in-flight buffer", "vhostuser.ring.oldest", FT_STRING, BASE_NONE);
  add(&hf_ring_fault, "Ring fault", "vhostuser.ring.fault", FT_STRING, BASE_NONE);
  add(&hf_notify_source, "Notification source", "vhostuser.notify.source", FT_UINT8, BASE_DEC);
  add(&hf_notify_event, "Notification event", "vhostuser.notify.event", FT_UINT8, BASE_DEC);
  add(&hf_notify_queue, "Queue", "vhostuser.notify.queue", FT_UINT16, BASE_DEC);
  add(&hf_notify_count, "Count", "vhostuser.notify.count", FT_UINT64, BASE_DEC);
}

void register_experts() {
  const auto findings = all_findings();
  reg->finding_ei.assign(findings.size(), EI_INIT);
  for (const FindingInfo& f : findings)
    reg->ei.push_back(make_ei(&reg->finding_ei[static_cast<size_t>(f.code)],
                              keep(fmt::format("vhostuser.expert.{}", f.id)), PI_PROTOCOL,
                              expert_severity(f.severity), keep(std::string(f.title))));
  reg->ei.push_back(make_ei(&ei_corrupt, "vhostuser.expert.corrupt-record", PI_PROTOCOL, PI_ERROR,
                            "corrupt vhostscope record"));
  reg->ei.push_back(make_ei(&ei_after_corrupt, "vhostuser.expert.after-corrupt-record", PI_SEQUENCE,
                            PI_NOTE,
                            "after a corrupt record: decoded on its own, not analysed "
                            "(vhostscope stops reading at a corrupt record)"));
  reg->ei.push_back(make_ei(&ei_unknown_kind, "vhostuser.expert.unknown-record-kind", PI_UNDECODED,
                            PI_NOTE, "record kind unknown to this dissector"));
  reg->ei.push_back(make_ei(&ei_undecodable, "vhostuser.expert.undecodable-record", PI_UNDECODED,
                            PI_WARN, "record bytes could not be decoded"));
  reg->ei.push_back(make_ei(&ei_internal, "vhostuser.expert.internal-error", PI_DEBUG, PI_ERROR,
                            "internal error in the vhostuser dissector"));
}

}  // namespace

void register_protocol() {
  reg = new Registration();
  // Wireshark keeps the name pointers: they must outlive the registration (kept in `reg`).
  proto_vhostuser = proto_register_protocol("vhost-user (vhostscope capture)", "vhost-user",
                                            keep(std::string(kProtocolName)));
  register_catalog_fields();
  register_record_fields();
  proto_register_field_array(proto_vhostuser, reg->hf.data(), static_cast<int>(reg->hf.size()));
  const FieldCatalog& catalog = field_catalog();
  for (size_t i = 0; i < catalog.fields.size(); ++i) {
    const CatalogField& f = catalog.fields[i];
    reg->by_path[f.path] = {reg->catalog_ids[2 * i],
                            f.alias.empty() ? -1 : reg->catalog_ids[2 * i + 1], f.kind};
  }
  static int* ett[] = {&ett_vhostuser, &ett_record, &ett_message, &ett_field, &ett_fd, &ett_ring};
  proto_register_subtree_array(ett, static_cast<int>(std::size(ett)));
  register_experts();
  expert_module_t* expert = expert_register_protocol(proto_vhostuser);
  expert_register_field_array(expert, reg->ei.data(), static_cast<int>(reg->ei.size()));
  register_init_routine(init_state);
  register_cleanup_routine(cleanup_state);
}

void register_handoff() {
  user_dlt_handle = find_dissector("user_dlt");
  dissector_handle_t handle = create_dissector_handle(dissect_vhostuser, proto_vhostuser);
  dissector_add_uint("wtap_encap", WTAP_ENCAP_USER0, handle);
}

}  // namespace vhs::wireshark
