// Session diff: alignment + field comparison (see diff_capture.hpp).
#include "captures/diff/diff_capture.hpp"

#include "captures/diff/diff_align.hpp"

namespace vhs {

std::vector<uint32_t> diff_entries(const Store& store, const StoreSession& session) {
  std::vector<uint32_t> out;
  for (uint32_t i = session.first_entry; session.first_entry != kNoEntry && i <= session.last_entry;
       ++i) {
    if (&store.session_of(i) != &session) continue;
    const StoreEntry& e = store.entry(i);
    if (e.kind == RecordKind::Message && e.header_complete)
      out.push_back(i);
    else if (e.kind == RecordKind::Disconnect || e.kind == RecordKind::Error)
      out.push_back(i);
  }
  return out;
}

uint64_t diff_key(const StoreEntry& e) {
  // kind 8 bits | channel 8 | direction 8 | role 8 | request 32
  uint64_t key = uint64_t{static_cast<uint8_t>(e.kind)} << 56;
  if (e.kind == RecordKind::Error) return key;
  key |= uint64_t{static_cast<uint8_t>(e.channel)} << 48;
  key |= uint64_t{static_cast<uint8_t>(e.direction)} << 40;
  if (e.kind != RecordKind::Message) return key;
  key |= uint64_t{static_cast<uint8_t>(e.role)} << 32;
  return key | e.header.request;
}

MessageView message_view(const Store& store, uint32_t entry) {
  return MessageView{store.entry(entry).channel, store.bytes(entry), store.fds(entry),
                     store.context(entry)};
}

void decode_alike(MessageView& a, MessageView& b) {
  if (a.context.device == DeviceKind::Unknown)
    a.context.device = b.context.device;
  else if (b.context.device == DeviceKind::Unknown)
    b.context.device = a.context.device;
}

CaptureDiff diff_sessions(const Store& a, const StoreSession& sa, const Store& b,
                          const StoreSession& sb, const DiffOptions& options) {
  std::vector<uint32_t> ea = diff_entries(a, sa), eb = diff_entries(b, sb);
  if (options.include) {
    std::erase_if(ea, [&](uint32_t i) { return !options.include(a, i); });
    std::erase_if(eb, [&](uint32_t i) { return !options.include(b, i); });
  }
  std::vector<uint64_t> ka, kb;
  ka.reserve(ea.size());
  kb.reserve(eb.size());
  for (uint32_t i : ea) ka.push_back(diff_key(a.entry(i)));
  for (uint32_t i : eb) kb.push_back(diff_key(b.entry(i)));

  CompareOptions compare;
  compare.addresses = options.addresses;
  CaptureDiff out;
  for (const AlignStep& s : align_sequences(ka, kb)) {
    DiffOp op;
    switch (s.kind) {
      case AlignStep::Kind::Delete:
        op.kind = DiffOp::Kind::OnlyA;
        op.a = ea[s.a];
        ++out.only_a;
        break;
      case AlignStep::Kind::Insert:
        op.kind = DiffOp::Kind::OnlyB;
        op.b = eb[s.b];
        ++out.only_b;
        break;
      case AlignStep::Kind::Equal: {
        op.a = ea[s.a];
        op.b = eb[s.b];
        if (a.entry(op.a).kind == RecordKind::Message) {
          MessageView va = message_view(a, op.a), vb = message_view(b, op.b);
          decode_alike(va, vb);
          op.changes = compare_messages(va, vb, compare);
        }
        const bool changed = real_change_count(op.changes) > 0;
        op.kind = changed ? DiffOp::Kind::Changed : DiffOp::Kind::Same;
        ++(changed ? out.changed : out.same);
        break;
      }
    }
    out.ops.push_back(std::move(op));
  }
  return out;
}

}  // namespace vhs
