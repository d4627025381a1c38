// The pool-level rules over per-image keys: power, classbalanced (rank/pool_select.h;
// docs/selection.md is the spec, fdal.oracle.pool_select the ground truth). Compiled with
// -ffp-contract=off like the rest of the library: power's float64 keys must not fuse multiply-adds.
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "rank/keys.h"
#include "rank/pool_select_detail.h"
#include "runtime/det_math.h"

namespace fdal {
namespace pool_detail {

namespace {

// power's keys of every candidate: b.f (f_i) and b.r (rkey(i)); not read when beta = inf.
void power_keys(const PoolCandidates& c, const Buffers& b, std::uint64_t seed, const PoolParams& p) {
  const std::int64_t n = c.n;
  const std::int64_t* s = c.scores;
  const std::int64_t smin = *std::min_element(s, s + n);
  for (std::int64_t i = 0; i < n; ++i) {
    const double x = double(std::uint64_t(s[i]) - std::uint64_t(smin)) * p.unit;
    require(std::isfinite(1.0 + x), "power: (key - min key) * unit overflows float64");
    const std::uint64_t r = random_key(seed, c.pool_index ? c.pool_index[i] : i);
    const double u = (9007199254740991.0 - 2.0 * double(r >> 12)) * 0x1p-53;  // in (0, 1)
    const double e1 = -det_log(u);                                          // Exp(1) variate
    b.f[i] = det_log(e1) + p.beta * det_log(1.0 + x);
    b.r[i] = r;
  }
}

// power's order: (key, position) for beta = inf, else (f, rkey, position). x before y?
struct PowerLess {
  const std::int64_t* s;
  const Buffers& b;
  bool top_k;  // beta = inf
  bool operator()(std::int32_t x, std::int32_t y) const {
    if (top_k) return s[x] < s[y] || (s[x] == s[y] && x < y);
    if (b.f[x] != b.f[y]) return b.f[x] < b.f[y];
    if (b.r[x] != b.r[y]) return b.r[x] < b.r[y];
    return x < y;
  }
};

}  // namespace

void power(const PoolCandidates& c, const Buffers& b, std::int64_t k, std::uint64_t seed,
           const PoolParams& p, std::int64_t* picks) {
  const std::int64_t n = c.n;
  for (std::int64_t i = 0; i < n; ++i) b.order[i] = std::int32_t(i);
  const bool top_k = std::isinf(p.beta);
  if (!top_k) power_keys(c, b, seed, p);
  std::partial_sort(b.order, b.order + k, b.order + n, PowerLess{c.scores, b, top_k});
  for (std::int64_t t = 0; t < k; ++t) picks[t] = b.order[t];
}

void class_balanced(const PoolCandidates& c, const Buffers& b, std::int64_t k, std::uint64_t seed,
                    const PoolParams& p, std::int64_t* picks) {
  const std::int64_t n = c.n;
  const std::int64_t* cls = c.classes;
  for (std::int64_t i = 0; i < n; ++i) b.order[i] = std::int32_t(i);
  const bool top_k = std::isinf(p.beta);
  if (!top_k) power_keys(c, b, seed, p);
  // Grouped by class (ascending), power's order within each group: one full sort.
  const PowerLess less{c.scores, b, top_k};
  std::sort(b.order, b.order + n, [&](std::int32_t x, std::int32_t y) {
    return cls[x] < cls[y] || (cls[x] == cls[y] && less(x, y));
  });
  std::int64_t groups = 0;
  for (std::int64_t t = 0; t < n; ++t) {
    if (t == 0 || cls[b.order[t]] != cls[b.order[t - 1]]) b.group_start[groups++] = std::int32_t(t);
  }
  b.group_start[groups] = std::int32_t(n);
  // Water-filling: each pick goes to the open group with the lowest level (labeled count of its
  // class + picks taken), ties to fewer candidates, then the lower class (groups are in ascending
  // class order, so the group index breaks them). A min-heap of the open groups: O(k log groups).
  // Without labeled counts every level starts at 0 and this is a round robin, rarest first.
  auto size = [&](std::int32_t g) -> std::int64_t { return b.group_start[g + 1] - b.group_start[g]; };
  auto level = [&](std::int32_t g) -> std::int64_t {
    const std::int64_t cl = cls[b.order[b.group_start[g]]];
    const std::int64_t labeled = cl < c.num_labeled_counts ? c.labeled_counts[cl] : 0;
    return labeled + b.group_taken[g];
  };
  auto after = [&](std::int32_t x, std::int32_t y) {  // heap order: x comes after y
    const std::int64_t lx = level(x), ly = level(y);
    if (lx != ly) return lx > ly;
    if (size(x) != size(y)) return size(x) > size(y);
    return x > y;
  };
  for (std::int64_t g = 0; g < groups; ++g) {
    b.group_taken[g] = 0;
    b.group_heap[g] = std::int32_t(g);
  }
  std::make_heap(b.group_heap, b.group_heap + groups, after);
  std::int64_t open = groups;
  for (std::int64_t got = 0; got < k; ++got) {  // got < k <= n: some group is open
    std::pop_heap(b.group_heap, b.group_heap + open, after);
    const std::int32_t g = b.group_heap[open - 1];
    picks[got] = b.order[b.group_start[g] + b.group_taken[g]];
    ++b.group_taken[g];
    if (b.group_taken[g] < size(g)) {
      std::push_heap(b.group_heap, b.group_heap + open, after);
    } else {
      --open;
    }
  }
}

}  // namespace pool_detail
}  // namespace fdal
