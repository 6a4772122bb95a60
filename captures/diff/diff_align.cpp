// Myers' diff in linear space (see diff_align.hpp). The middle-snake recursion marks which
// elements of each side are not part of the common subsequence; the steps are read off the marks.
#include "captures/diff/diff_align.hpp"

#include <algorithm>

namespace vhs {
namespace {

struct Marks {
  std::vector<char> deleted;   // per element of a
  std::vector<char> inserted;  // per element of b
};

// Edit script of e[0,N) -> f[0,M); i, j = their offsets in the whole sequences. Forward and
// backward searches meet in the middle snake, which splits the problem in two.
void myers(const uint64_t* e, int N, const uint64_t* f, int M, int i, int j, Marks& marks) {
  // Common prefix and suffix never need a search.
  while (N > 0 && M > 0 && e[0] == f[0]) {
    ++e, ++f, ++i, ++j;
    --N, --M;
  }
  while (N > 0 && M > 0 && e[N - 1] == f[M - 1]) --N, --M;
  if (N == 0 || M == 0) {
    for (int n = 0; n < N; ++n) marks.deleted[static_cast<size_t>(i + n)] = 1;
    for (int n = 0; n < M; ++n) marks.inserted[static_cast<size_t>(j + n)] = 1;
    return;
  }
  const int w = N - M, L = N + M, Z = 2 * std::min(N, M) + 2;
  std::vector<int> g(static_cast<size_t>(Z), 0), p(static_cast<size_t>(Z), 0);
  auto at = [Z](std::vector<int>& v, int k) -> int& {
    int r = k % Z;
    return v[static_cast<size_t>(r < 0 ? r + Z : r)];
  };
  for (int h = 0; h <= L / 2 + (L % 2 != 0); ++h) {
    for (int r = 0; r < 2; ++r) {
      std::vector<int>& c = r == 0 ? g : p;  // this direction's furthest x per diagonal
      std::vector<int>& d = r == 0 ? p : g;  // the other direction's
      const int o = r == 0 ? 1 : 0;          // 1: forward, 0: backward (reversed sequences)
      const int m = r == 0 ? 1 : -1;
      for (int k = -(h - 2 * std::max(0, h - M)); k <= h - 2 * std::max(0, h - N); k += 2) {
        int a =
            (k == -h || (k != h && at(c, k - 1) < at(c, k + 1))) ? at(c, k + 1) : at(c, k - 1) + 1;
        int b = a - k;
        const int s = a, t = b;
        while (a < N && b < M &&
               e[(1 - o) * N + m * a + (o - 1)] == f[(1 - o) * M + m * b + (o - 1)])
          ++a, ++b;
        at(c, k) = a;
        const int z = -(k - w);
        if (L % 2 == o && z >= -(h - o) && z <= h - o && at(c, k) + at(d, z) >= N) {
          int D, x, y, u, v;
          if (o == 1) {
            D = 2 * h - 1, x = s, y = t, u = a, v = b;
          } else {
            D = 2 * h, x = N - a, y = M - b, u = N - s, v = M - t;
          }
          if (D > 1 || (x != u && y != v)) {
            myers(e, x, f, y, i, j, marks);
            myers(e + u, N - u, f + v, M - v, i + u, j + v, marks);
          } else if (M > N) {
            myers(e + N, 0, f + N, M - N, i + N, j + N, marks);
          } else if (M < N) {
            myers(e + M, N - M, f + M, 0, i + M, j + M, marks);
          }
          return;
        }
      }
    }
  }
}

}  // namespace

std::vector<AlignStep> align_sequences(std::span<const uint64_t> a, std::span<const uint64_t> b) {
  Marks marks{std::vector<char>(a.size(), 0), std::vector<char>(b.size(), 0)};
  myers(a.data(), static_cast<int>(a.size()), b.data(), static_cast<int>(b.size()), 0, 0, marks);

  std::vector<AlignStep> out;
  out.reserve(std::max(a.size(), b.size()));
  size_t i = 0, j = 0;
  while (i < a.size() || j < b.size()) {
    if (i < a.size() && marks.deleted[i]) {
      out.push_back({AlignStep::Kind::Delete, static_cast<uint32_t>(i++), 0});
    } else if (j < b.size() && marks.inserted[j]) {
      out.push_back({AlignStep::Kind::Insert, 0, static_cast<uint32_t>(j++)});
    } else if (i < a.size() && j < b.size()) {
      out.push_back(
          {AlignStep::Kind::Equal, static_cast<uint32_t>(i++), static_cast<uint32_t>(j++)});
    } else {
      break;  // unreachable: both sides' unmarked elements are the same common subsequence
    }
  }
  return out;
}

}  // namespace vhs
