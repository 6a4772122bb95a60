// Store entry -> Record, the inverse of Store::append as far as a capture file is concerned.
#include "app/common/view_export.hpp"

#include "captures/model/store.hpp"

namespace vhs::view {

Record record_of(const Store& store, size_t i) {
  const StoreEntry& e = store.entry(i);
  Record r;
  r.kind = e.kind;
  r.direction = e.direction;
  r.channel = e.channel;
  r.flags = e.record_flags;
  r.session = e.session;
  r.timestamp_ns = e.timestamp_ns;
  auto fds = store.fds(i);
  r.fds.assign(fds.begin(), fds.end());
  auto bytes = store.bytes(i);
  if (!bytes.empty() || e.kind == RecordKind::Message) {
    r.bytes.assign(bytes.begin(), bytes.end());
  } else {
    std::string_view note = store.text(i);
    r.bytes.assign(note.begin(), note.end());
  }
  return r;
}

size_t export_records(const Store& store, RecordSink& sink) {
  for (size_t i = 0; i < store.size(); ++i) sink.on_record(record_of(store, i));
  return store.size();
}

}  // namespace vhs::view
