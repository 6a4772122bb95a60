// Axis layout with compressed holes, and vring address translation through the memory table
// (vhost-user spec "Memory region description").
#include "app/common/view_memory.hpp"

#include <algorithm>

#include "decoders/vhost_user/features.hpp"
#include "decoders/virtio/guest_memory.hpp"

namespace vhs::view {

AxisLayout AxisLayout::build(std::span<const AddressRange> ranges, double max_hole_fraction,
                             double break_width) {
  AxisLayout out;
  // Union of the ranges, sorted.
  std::vector<AddressRange> sorted;
  for (const auto& r : ranges)
    if (r.size > 0 && r.start + r.size > r.start) sorted.push_back(r);
  std::sort(sorted.begin(), sorted.end(),
            [](const auto& a, const auto& b) { return a.start < b.start; });
  std::vector<AxisPiece> covered;
  for (const auto& r : sorted) {
    if (!covered.empty() && r.start <= covered.back().end) {
      covered.back().end = std::max(covered.back().end, r.end());
    } else {
      covered.push_back({r.start, r.end(), 0, 0});
    }
  }
  if (covered.empty()) return out;

  double total = 0;
  for (const auto& c : covered) total += static_cast<double>(c.end - c.start);
  // Holes: to scale when small, a fixed break when large.
  std::vector<double> hole_units;
  double hole_total_scaled = 0;
  size_t breaks = 0;
  for (size_t i = 1; i < covered.size(); ++i) {
    double hole = static_cast<double>(covered[i].start - covered[i - 1].end);
    if (hole <= total * max_hole_fraction) {
      hole_units.push_back(hole);
      hole_total_scaled += hole;
    } else {
      hole_units.push_back(-1);
      ++breaks;
    }
  }
  const double break_space = std::min(0.5, break_width * static_cast<double>(breaks));
  const double scale = (1.0 - break_space) / (total + hole_total_scaled);
  const double one_break = breaks ? break_space / static_cast<double>(breaks) : 0;
  double x = 0;
  for (size_t i = 0; i < covered.size(); ++i) {
    if (i > 0) {
      if (hole_units[i - 1] < 0) {
        out.breaks_.push_back(x + one_break / 2);
        x += one_break;
      } else {
        // A small hole stays part of the scale: draw it as a piece of its own with no region.
        x += hole_units[i - 1] * scale;
      }
    }
    AxisPiece p = covered[i];
    p.x0 = x;
    x += static_cast<double>(p.end - p.start) * scale;
    p.x1 = x;
    out.pieces_.push_back(p);
  }
  return out;
}

std::optional<double> AxisLayout::x_of(uint64_t addr) const {
  for (const auto& p : pieces_) {
    if (addr >= p.start && addr < p.end) {
      double f = static_cast<double>(addr - p.start) / static_cast<double>(p.end - p.start);
      return p.x0 + f * (p.x1 - p.x0);
    }
  }
  return std::nullopt;
}

std::optional<std::pair<double, double>> AxisLayout::span_of(const AddressRange& r) const {
  if (r.size == 0) return std::nullopt;
  auto a = x_of(r.start);
  if (!a) return std::nullopt;
  // The exclusive end maps inside the piece that holds the range's last byte.
  const uint64_t end = r.end();
  for (const auto& p : pieces_) {
    if (end > p.start && end <= p.end) {
      double f = static_cast<double>(end - p.start) / static_cast<double>(p.end - p.start);
      return std::make_pair(*a, p.x0 + f * (p.x1 - p.x0));
    }
  }
  return std::nullopt;
}

namespace {
MemoryMap map_of(const SessionState& state) {
  std::vector<MemRegionValue> regions;
  regions.reserve(state.regions.size());
  for (const auto& r : state.regions) regions.push_back(r.region);
  return MemoryMap(regions);
}
}  // namespace

std::optional<size_t> region_of_uva(const SessionState& state, uint64_t uva) {
  if (auto hit = map_of(state).find_uva(uva)) return hit->region;
  return std::nullopt;
}

std::optional<size_t> region_of_gpa(const SessionState& state, uint64_t gpa) {
  if (auto hit = map_of(state).find_gpa(gpa)) return hit->region;
  return std::nullopt;
}

// Translation goes through the decoders' MemoryMap, the same one the ring decoders use.
std::vector<RingMark> ring_marks(const SessionState& state) {
  std::vector<RingMark> out;
  const MemoryMap map = map_of(state);
  const bool iova = state.features.acked_has(kFeatureAccessPlatform);
  for (const VringState& v : state.vrings) {
    if (!v.addr) continue;
    const VringAddrValue& a = *v.addr;
    const std::pair<std::string_view, uint64_t> parts[] = {
        {"desc", a.desc_user_addr}, {"avail", a.avail_user_addr}, {"used", a.used_user_addr}};
    for (const auto& [part, addr] : parts) {
      RingMark m;
      m.queue = v.index;
      m.part = part;
      m.address = addr;
      m.iova = iova;
      if (!iova) {
        m.uva = addr;
        if (auto hit = map.find_uva(addr)) m.region = hit->region;
        m.gpa = map.uva_to_gpa(addr);
      }
      out.push_back(m);
    }
    if (a.flags & 1u) {  // VHOST_VRING_F_LOG: log_guest_addr is the used ring's GPA
      RingMark m;
      m.queue = v.index;
      m.part = "log";
      m.address = a.log_guest_addr;
      m.gpa = a.log_guest_addr;
      if (auto hit = map.find_gpa(a.log_guest_addr)) m.region = hit->region;
      m.uva = map.gpa_to_uva(a.log_guest_addr);
      out.push_back(m);
    }
  }
  return out;
}

}  // namespace vhs::view
