// Display names of record kinds (the pseudo-header `kind` byte, docs/capture-format.md).
#include "captures/format/record.hpp"

namespace vhs {

std::string_view record_kind_name(RecordKind k) {
  switch (k) {
    case RecordKind::Message: return "message";
    case RecordKind::Connect: return "connect";
    case RecordKind::Disconnect: return "disconnect";
    case RecordKind::Error: return "error";
    case RecordKind::RingState: return "ring-state";
    case RecordKind::Notify: return "notify";
  }
  return "unknown";  // a value from a newer writer
}

}  // namespace vhs
