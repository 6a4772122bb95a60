// Memory-map view-model: lays the memory regions out along an address axis to scale (large
// holes between regions compressed to a fixed break so a 4 GiB hole does not hide a 2 MiB
// region), and places each vring's addresses on the map by translating them through the table.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "decoders/session/session.hpp"

namespace vhs::view {

struct AddressRange {
  uint64_t start = 0;
  uint64_t size = 0;
  uint64_t end() const { return start + size; }  // callers pass ranges that do not wrap
};

// One piece of the axis: the addresses [start, end) drawn from x0 to x1 (0..1).
struct AxisPiece {
  uint64_t start = 0, end = 0;
  double x0 = 0, x1 = 0;
};

class AxisLayout {
 public:
  // Covered spans (the union of `ranges`) share the axis in proportion to their size; a hole
  // between them wider than `max_hole_fraction` of the covered total is drawn `break_width`
  // wide instead of to scale.
  static AxisLayout build(std::span<const AddressRange> ranges, double max_hole_fraction = 0.05,
                          double break_width = 0.04);

  // x (0..1) of an address inside a covered span; nullopt in a hole or outside.
  std::optional<double> x_of(uint64_t addr) const;
  // x of a range's start and end (the end maps to the right edge of its last byte).
  std::optional<std::pair<double, double>> span_of(const AddressRange& r) const;
  const std::vector<AxisPiece>& pieces() const { return pieces_; }
  // x positions of compressed holes, for the break markers.
  const std::vector<double>& breaks() const { return breaks_; }

 private:
  std::vector<AxisPiece> pieces_;
  std::vector<double> breaks_;
};

// A vring address placed on the memory map.
struct RingMark {
  uint32_t queue = 0;
  std::string_view part;  // "desc", "avail", "used" (front-end addresses) or "log" (guest-physical)
  uint64_t address = 0;   // as sent in SET_VRING_ADDR
  bool iova = false;      // ACCESS_PLATFORM acked: an IOVA, not translatable through the table
  std::optional<size_t> region;  // index into SessionState::regions
  std::optional<uint64_t> gpa;   // guest-physical address
  std::optional<uint64_t> uva;   // front-end virtual address
};

std::vector<RingMark> ring_marks(const SessionState& state);

// Region containing a front-end virtual / guest-physical address.
std::optional<size_t> region_of_uva(const SessionState& state, uint64_t uva);
std::optional<size_t> region_of_gpa(const SessionState& state, uint64_t gpa);

}  // namespace vhs::view
