// Pool-level selection rules (pool_select.h; docs/selection.md is the spec, fdal.oracle.pool_select
// the ground truth). Compiled with -ffp-contract=off like the rest of the library: power's float64
// keys must not fuse multiply-adds.
#include "rank/pool_select.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <vector>

#include "kernels/cpu_features.h"
#include "rank/keys.h"
#include "rank/pool_dot.h"
#include "runtime/det_math.h"

namespace fdal {

const char* const kPoolRuleNames[kNumPoolRules] = {"kcenter", "typiclust", "probcover", "power",
                                                   "classbalanced"};

PoolRule parse_pool_rule(const std::string& name) {
  for (int i = 0; i < kNumPoolRules; ++i) {
    if (name == kPoolRuleNames[i]) return static_cast<PoolRule>(i);
  }
  throw std::invalid_argument("unknown pool rule '" + name +
                              "'; known rules: kcenter, typiclust, probcover, power, classbalanced");
}

namespace {

// The reference: out[a * nb + b] = plain sum over the depth, row pointers from row_a and row_b.
template <typename T, typename RowA, typename RowB>
void dot_loops(std::int32_t na, std::int32_t nb, std::int64_t stride, RowA row_a, RowB row_b,
               std::int32_t* out) {
  for (std::int32_t a = 0; a < na; ++a) {
    const T* x = row_a(a);
    for (std::int32_t b = 0; b < nb; ++b) {
      const T* y = row_b(b);
      std::int32_t s = 0;
      for (std::int64_t t = 0; t < stride; ++t) s += std::int32_t(x[t]) * std::int32_t(y[t]);
      out[std::int64_t(a) * nb + b] = s;
    }
  }
}

}  // namespace

void pool_dot_scalar(const std::int8_t* rows, std::int64_t stride, const std::int32_t* ia,
                     std::int32_t na, const std::int32_t* ib, std::int32_t nb, std::int32_t* out) {
  dot_loops<std::int8_t>(na, nb, stride, [&](std::int32_t a) { return rows + std::int64_t(ia[a]) * stride; },
                         [&](std::int32_t b) { return rows + std::int64_t(ib[b]) * stride; }, out);
}

void pool_dot16_scalar(const std::int16_t* a16, std::int32_t na, const std::int16_t* b16,
                       std::int32_t nb, std::int64_t stride, std::int32_t* out) {
  dot_loops<std::int16_t>(na, nb, stride, [&](std::int32_t a) { return a16 + std::int64_t(a) * stride; },
                          [&](std::int32_t b) { return b16 + std::int64_t(b) * stride; }, out);
}

PoolKernels pool_dot_kernel(const char* name) {
  const std::string n = name ? name : "auto";
#ifdef FDAL_POOL_AVX2
  const bool avx2 = cpu_features().avx2;
#else
  const bool avx2 = false;
#endif
  if (n == "scalar") return {&pool_dot_scalar, &pool_dot16_scalar};
  if (n == "avx2" || n == "auto") {
#ifdef FDAL_POOL_AVX2
    if (avx2) return {&x86::pool_dot_avx2, &x86::pool_dot16_avx2};
#endif
    if (n == "auto") return {&pool_dot_scalar, &pool_dot16_scalar};
    throw std::invalid_argument(std::string("pool kernel 'avx2' cannot run here (") +
                                (avx2 ? "CPU" : "build") + " lacks AVX2)");
  }
  throw std::invalid_argument("unknown pool kernel '" + n + "'; known: auto, scalar, avx2");
}

namespace {

constexpr std::int64_t kTile = 64;  // B: tile side of the pairwise passes
constexpr std::int64_t kNoDist = std::numeric_limits<std::int64_t>::max();
constexpr std::int64_t kEdgeCap = 32;  // probcover keeps its ball graph when it has <= 32 n edges

void require(bool ok, const std::string& message) {
  if (!ok) throw std::invalid_argument(message);
}

// A bump allocator over the scratch buffer; with base == nullptr it only counts bytes.
class Carve {
 public:
  explicit Carve(unsigned char* base) : base_(base) {}
  template <typename T>
  T* take(std::uint64_t count) {
    off_ = (off_ + 63) & ~std::uint64_t(63);
    T* p = base_ ? reinterpret_cast<T*>(base_ + off_) : nullptr;
    off_ += count * sizeof(T);
    return p;
  }
  std::uint64_t used() const { return off_; }

 private:
  unsigned char* base_;
  std::uint64_t off_ = 0;
};

struct Buffers {
  std::int8_t* rows = nullptr;
  std::int32_t* norms = nullptr;
  std::int32_t* pos = nullptr;
  std::int32_t* tile = nullptr;
  std::int16_t* wide = nullptr;  // two blocks of kTile rows widened to int16
  std::int64_t* mind = nullptr;
  std::uint8_t* picked = nullptr;
  std::int32_t* cell = nullptr;
  std::int64_t* seeds = nullptr;
  std::int32_t* members = nullptr;
  std::int32_t* starts = nullptr;
  std::int64_t* knn = nullptr;
  std::int32_t* fill = nullptr;
  std::int64_t* sums = nullptr;
  std::int32_t* visit = nullptr;
  std::int32_t* taken = nullptr;
  std::int64_t* kth = nullptr;
  std::int64_t* deg = nullptr;
  std::uint8_t* covered = nullptr;
  std::int32_t* fresh = nullptr;
  std::int32_t* edges = nullptr;
  std::int32_t* adj = nullptr;
  std::int64_t* adj_start = nullptr;
  double* f = nullptr;
  std::uint64_t* r = nullptr;
  std::int32_t* order = nullptr;
  std::int32_t* group_start = nullptr;  // classbalanced: first slot of each class in order
  std::int32_t* group_heap = nullptr;   // classbalanced: open class groups, a min-heap by level
  std::int32_t* group_taken = nullptr;  // classbalanced: picks taken from each group
};

std::int64_t padded_dim(std::int64_t d) { return (d + 15) / 16 * 16; }
std::int64_t typiclust_cells(std::int64_t k, const PoolParams& p) { return std::min<std::int64_t>(k, p.max_cells); }
std::int64_t typiclust_list(std::int64_t n, const PoolParams& p) {
  return std::max<std::int64_t>(1, std::min<std::int64_t>(p.k_nn, n / 2));
}
std::int64_t probcover_list(std::int64_t n, const PoolParams& p) {
  return std::max<std::int64_t>(1, std::min<std::int64_t>(p.k_nn, n - 1));
}

void check_shape(PoolRule rule, std::int64_t n, std::int64_t d, std::int64_t k, const PoolParams& p) {
  require(n >= 1, "the candidate set is empty (n = " + std::to_string(n) + ")");
  require(n <= kPoolMaxCandidates, "too many candidates (n = " + std::to_string(n) + ")");
  if (!pool_rule_takes_scores(rule)) {
    require(d >= 1 && d <= kPoolMaxDim,
            "embedding dimension d = " + std::to_string(d) + " must be in 1..65536");
  }
  require(k >= 1 && k <= n, "k = " + std::to_string(k) + " must be in 1.." + std::to_string(n) +
                                " (the number of candidates)");
  require(p.min_cluster_size >= 0, "min_cluster_size must be >= 0");
  require(p.k_nn >= 1, "k_nn must be >= 1");
  require(p.max_cells >= 1, "max_cells must be >= 1");
  require(p.delta >= -1, "delta must be >= -1 (-1: from the data)");
  require(p.beta >= 0.0, "beta must be >= 0 (inf allowed: top-k of the score)");  // NaN fails too
  require(p.unit > 0.0 && std::isfinite(p.unit), "unit must be finite and > 0");
}

void layout(PoolRule rule, std::int64_t n, std::int64_t d, std::int64_t k, const PoolParams& p,
            Carve& cv, Buffers& b) {
  const std::uint64_t un = std::uint64_t(n);
  if (pool_rule_takes_scores(rule)) {
    b.f = cv.take<double>(un);
    b.r = cv.take<std::uint64_t>(un);
    b.order = cv.take<std::int32_t>(un);
    if (rule == PoolRule::ClassBalanced) {
      b.group_start = cv.take<std::int32_t>(un + 1);
      b.group_heap = cv.take<std::int32_t>(un);
      b.group_taken = cv.take<std::int32_t>(un);
    }
    return;
  }
  b.rows = cv.take<std::int8_t>(un * std::uint64_t(padded_dim(d)));
  b.norms = cv.take<std::int32_t>(un);
  b.pos = cv.take<std::int32_t>(un);
  b.tile = cv.take<std::int32_t>(kTile * kTile);
  if (rule != PoolRule::KCenter) b.wide = cv.take<std::int16_t>(2 * kTile * std::uint64_t(padded_dim(d)));
  b.mind = cv.take<std::int64_t>(un);
  b.picked = cv.take<std::uint8_t>(un);
  if (rule == PoolRule::TypiClust) {
    const std::uint64_t c = std::uint64_t(typiclust_cells(k, p));
    b.cell = cv.take<std::int32_t>(un);
    b.seeds = cv.take<std::int64_t>(c);
    b.members = cv.take<std::int32_t>(un);
    b.starts = cv.take<std::int32_t>(c + 1);
    b.knn = cv.take<std::int64_t>(un * std::uint64_t(typiclust_list(n, p)));
    b.fill = cv.take<std::int32_t>(un);
    b.sums = cv.take<std::int64_t>(un);
    b.visit = cv.take<std::int32_t>(c);
    b.taken = cv.take<std::int32_t>(c);
  } else if (rule == PoolRule::ProbCover) {
    b.knn = cv.take<std::int64_t>(un * std::uint64_t(probcover_list(n, p)));
    b.fill = cv.take<std::int32_t>(un);
    b.kth = cv.take<std::int64_t>(un);
    b.deg = cv.take<std::int64_t>(un);
    b.covered = cv.take<std::uint8_t>(un);
    b.fresh = cv.take<std::int32_t>(un);
    b.edges = cv.take<std::int32_t>(2 * kEdgeCap * un);
    b.adj = cv.take<std::int32_t>(2 * kEdgeCap * un);
    b.adj_start = cv.take<std::int64_t>(un + 1);
  }
}

// Squared L2 distances between candidates: norm_a + norm_b - 2 dot (int64, exact).
struct Dist {
  const std::int8_t* rows;
  std::int64_t stride;
  const std::int32_t* norms;
  std::int32_t* tile;
  std::int16_t* wide;
  PoolDotFn dot;
  PoolDot16Fn dot16;
  const std::atomic<bool>* cancel;

  // Called once per tile (at most 4,096 distances): a relaxed load, nothing when not cancelled.
  void poll() const {
    if (cancel != nullptr && cancel->load(std::memory_order_relaxed)) throw SelectionCancelled();
  }

  // Rows list[0 .. cnt) as contiguous int16 rows at out.
  void widen(const std::int32_t* list, std::int32_t cnt, std::int16_t* out) const {
    for (std::int32_t r = 0; r < cnt; ++r) {
      const std::int8_t* src = rows + std::int64_t(list[r]) * stride;
      std::int16_t* dst = out + std::int64_t(r) * stride;
      for (std::int64_t t = 0; t < stride; ++t) dst[t] = src[t];
    }
  }

  std::int64_t of(std::int32_t a, std::int32_t b, std::int32_t dot_ab) const {
    return std::int64_t(norms[a]) + std::int64_t(norms[b]) - 2 * std::int64_t(dot_ab);
  }
  // f(t, dist(a, list[t])) for t = 0 .. cnt - 1, in order.
  template <typename F>
  void row(std::int32_t a, const std::int32_t* list, std::int64_t cnt, F&& f) const {
    for (std::int64_t j0 = 0; j0 < cnt; j0 += kTile * kTile) {
      poll();
      const std::int32_t nb = std::int32_t(std::min(kTile * kTile, cnt - j0));
      dot(rows, stride, &a, 1, list + j0, nb, tile);
      for (std::int32_t t = 0; t < nb; ++t) f(j0 + t, of(a, list[j0 + t], tile[t]));
    }
  }
  // f(s, t, dist(la[s], lb[t])) for every s < ca, t < cb (row blocks of kTile).
  template <typename F>
  void cross(const std::int32_t* la, std::int64_t ca, const std::int32_t* lb, std::int64_t cb, F&& f) const {
    std::int16_t* wa = wide;
    std::int16_t* wb = wide + kTile * stride;
    for (std::int64_t i0 = 0; i0 < ca; i0 += kTile) {
      const std::int32_t na = std::int32_t(std::min(kTile, ca - i0));
      widen(la + i0, na, wa);
      for (std::int64_t j0 = 0; j0 < cb; j0 += kTile) {
        poll();
        const std::int32_t nb = std::int32_t(std::min(kTile, cb - j0));
        widen(lb + j0, nb, wb);
        dot16(wa, na, wb, nb, stride, tile);
        for (std::int32_t s = 0; s < na; ++s) {
          for (std::int32_t t = 0; t < nb; ++t) {
            f(i0 + s, j0 + t, of(la[i0 + s], lb[j0 + t], tile[std::int64_t(s) * nb + t]));
          }
        }
      }
    }
  }
  // f(s, t, dist(list[s], list[t])) once for every pair s < t of list[0 .. cnt).
  template <typename F>
  void pairs(const std::int32_t* list, std::int64_t cnt, F&& f) const {
    std::int16_t* wa = wide;
    std::int16_t* wb = wide + kTile * stride;
    for (std::int64_t i0 = 0; i0 < cnt; i0 += kTile) {
      const std::int32_t na = std::int32_t(std::min(kTile, cnt - i0));
      widen(list + i0, na, wa);
      for (std::int64_t j0 = i0; j0 < cnt; j0 += kTile) {
        poll();
        const std::int32_t nb = std::int32_t(std::min(kTile, cnt - j0));
        widen(list + j0, nb, wb);
        dot16(wa, na, wb, nb, stride, tile);
        for (std::int32_t s = 0; s < na; ++s) {
          const std::int32_t a = list[i0 + s];
          for (std::int32_t t = (j0 == i0 ? s + 1 : 0); t < nb; ++t) {
            f(i0 + s, j0 + t, of(a, list[j0 + t], tile[std::int64_t(s) * nb + t]));
          }
        }
      }
    }
  }
};

// The K smallest values seen, ascending, in list[0 .. fill).
inline void knn_insert(std::int64_t* list, std::int32_t& fill, std::int32_t K, std::int64_t v) {
  std::int32_t i;
  if (fill == K) {
    if (v >= list[K - 1]) return;
    i = K - 1;
  } else {
    i = fill++;
  }
  while (i > 0 && list[i - 1] > v) {
    list[i] = list[i - 1];
    --i;
  }
  list[i] = v;
}

// kNN lists of list[0 .. cnt) among themselves (K each), in knn[s * K ..] for slot s.
void knn_lists(const Dist& dist, const std::int32_t* list, std::int64_t cnt, std::int32_t K,
               std::int64_t* knn, std::int32_t* fill) {
  std::fill(fill, fill + cnt, 0);
  dist.pairs(list, cnt, [&](std::int64_t s, std::int64_t t, std::int64_t v) {
    knn_insert(knn + s * K, fill[s], K, v);
    knn_insert(knn + t * K, fill[t], K, v);
  });
}

std::int64_t first_center(std::int64_t n, const std::int64_t* pool_index, std::uint64_t seed) {
  std::int64_t best = 0;
  std::uint64_t best_key = random_key(seed, pool_index ? pool_index[0] : 0);
  for (std::int64_t i = 1; i < n; ++i) {
    const std::uint64_t key = random_key(seed, pool_index ? pool_index[i] : i);
    if (key < best_key) {
      best_key = key;
      best = i;
    }
  }
  return best;
}

// Farthest-first from picks[0 .. have) (mind and picked already describe them) up to k picks.
// cell (may be null): index into picks of the nearest pick, ties to the pick of lowest position.
void farthest_first(const Dist& dist, const std::int32_t* pos, std::int64_t n, std::int64_t* picks,
                    std::int64_t have, std::int64_t k, std::int64_t* mind, std::uint8_t* picked,
                    std::int32_t* cell) {
  for (std::int64_t t = have; t < k; ++t) {
    std::int64_t next = -1, far = -1;
    for (std::int64_t i = 0; i < n; ++i) {
      if (!picked[i] && mind[i] > far) {
        far = mind[i];
        next = i;
      }
    }
    picks[t] = next;
    picked[next] = 1;
    dist.row(std::int32_t(next), pos, n, [&](std::int64_t i, std::int64_t v) {
      if (cell && (v < mind[i] || (v == mind[i] && next < picks[cell[i]]))) cell[i] = std::int32_t(t);
      if (v < mind[i]) mind[i] = v;
    });
  }
}

void kcenter_seeds(const Dist& dist, const Buffers& b, std::int64_t n, std::int64_t k,
                   const std::int64_t* pool_index, std::uint64_t seed, std::int64_t* picks,
                   std::int32_t* cell) {
  const std::int64_t first = first_center(n, pool_index, seed);
  picks[0] = first;
  std::fill(b.picked, b.picked + n, std::uint8_t(0));
  b.picked[first] = 1;
  dist.row(std::int32_t(first), b.pos, n, [&](std::int64_t i, std::int64_t v) { b.mind[i] = v; });
  if (cell) std::fill(cell, cell + n, 0);
  farthest_first(dist, b.pos, n, picks, 1, k, b.mind, b.picked, cell);
}

void typiclust(const Dist& dist, const Buffers& b, std::int64_t n, std::int64_t k,
               const std::int64_t* pool_index, std::uint64_t seed, const PoolParams& p,
               std::int64_t* picks) {
  const std::int64_t c = typiclust_cells(k, p);
  kcenter_seeds(dist, b, n, c, pool_index, seed, b.seeds, b.cell);
  // Members of each cell, ascending positions: a counting sort by cell.
  std::fill(b.starts, b.starts + c + 1, 0);
  for (std::int64_t i = 0; i < n; ++i) ++b.starts[b.cell[i] + 1];
  for (std::int64_t j = 0; j < c; ++j) b.starts[j + 1] += b.starts[j];
  std::fill(b.taken, b.taken + c, 0);
  for (std::int64_t i = 0; i < n; ++i) {
    const std::int32_t j = b.cell[i];
    b.members[b.starts[j] + b.taken[j]++] = std::int32_t(i);
  }
  // Typicality: the sum of the K smallest squared distances to the other members of the cell.
  for (std::int64_t j = 0; j < c; ++j) {
    std::int32_t* mem = b.members + b.starts[j];
    const std::int64_t m = b.starts[j + 1] - b.starts[j];
    if (m >= 2) {
      const std::int32_t K = std::int32_t(std::max<std::int64_t>(1, std::min<std::int64_t>(p.k_nn, m / 2)));
      std::int64_t* knn = b.knn + std::int64_t(b.starts[j]) * typiclust_list(n, p);
      knn_lists(dist, mem, m, K, knn, b.fill + b.starts[j]);
      for (std::int64_t s = 0; s < m; ++s) {
        std::int64_t sum = 0;
        for (std::int32_t t = 0; t < K; ++t) sum += knn[s * K + t];
        b.sums[mem[s]] = sum;
      }
    } else if (m == 1) {
      b.sums[mem[0]] = 0;
    }
    std::sort(mem, mem + m, [&](std::int32_t x, std::int32_t y) {
      return b.sums[x] < b.sums[y] || (b.sums[x] == b.sums[y] && x < y);
    });
  }
  // Cells largest first (ties: seed of lower position); those above min_cluster_size first.
  auto size = [&](std::int64_t j) { return std::int64_t(b.starts[j + 1] - b.starts[j]); };
  for (std::int64_t j = 0; j < c; ++j) b.visit[j] = std::int32_t(j);
  std::sort(b.visit, b.visit + c, [&](std::int32_t x, std::int32_t y) {
    return size(x) > size(y) || (size(x) == size(y) && b.seeds[x] < b.seeds[y]);
  });
  std::fill(b.taken, b.taken + c, 0);
  std::int64_t got = 0;
  for (int group = 0; group < 2 && got < k; ++group) {
    auto in_group = [&](std::int64_t j) {
      return group == 0 ? size(j) > p.min_cluster_size : size(j) > 0 && size(j) <= p.min_cluster_size;
    };
    bool any = true;
    while (got < k && any) {
      any = false;
      for (std::int64_t v = 0; v < c && got < k; ++v) {
        const std::int32_t j = b.visit[v];
        if (!in_group(j) || b.taken[j] >= size(j)) continue;
        picks[got++] = b.members[b.starts[j] + b.taken[j]++];
        any = true;
      }
    }
  }
}

void probcover(const Dist& dist, const Buffers& b, std::int64_t n, std::int64_t k, const PoolParams& p,
               std::int64_t* picks) {
  std::int64_t delta = p.delta;
  const std::int64_t K = std::min<std::int64_t>(p.k_nn, n - 1);
  if (delta < 0) {
    if (K == 0) {
      delta = 0;
    } else {
      knn_lists(dist, b.pos, n, std::int32_t(K), b.knn, b.fill);
      for (std::int64_t i = 0; i < n; ++i) b.kth[i] = b.knn[i * K + K - 1];
      std::nth_element(b.kth, b.kth + (n - 1) / 2, b.kth + n);
      delta = b.kth[(n - 1) / 2];
    }
  }
  // Degrees of the symmetric delta-ball graph, each ball holding its own centre; its edges are
  // kept (adjacency lists) when there are at most kEdgeCap * n of them.
  const std::int64_t cap = kEdgeCap * n;
  std::int64_t ne = 0;
  std::fill(b.deg, b.deg + n, 1);
  dist.pairs(b.pos, n, [&](std::int64_t s, std::int64_t t, std::int64_t v) {
    if (v <= delta) {
      ++b.deg[s];
      ++b.deg[t];
      if (ne < cap) {
        b.edges[2 * ne] = std::int32_t(s);
        b.edges[2 * ne + 1] = std::int32_t(t);
      }
      ++ne;
    }
  });
  const bool stored = ne <= cap;
  if (stored) {
    b.adj_start[0] = 0;
    for (std::int64_t i = 0; i < n; ++i) b.adj_start[i + 1] = b.adj_start[i] + b.deg[i] - 1;
    std::fill(b.fill, b.fill + n, 0);
    for (std::int64_t e = 0; e < ne; ++e) {
      const std::int32_t s = b.edges[2 * e], t = b.edges[2 * e + 1];
      b.adj[b.adj_start[s] + b.fill[s]++] = t;
      b.adj[b.adj_start[t] + b.fill[t]++] = s;
    }
  }
  std::fill(b.covered, b.covered + n, std::uint8_t(0));
  std::fill(b.picked, b.picked + n, std::uint8_t(0));
  std::int64_t got = 0;
  while (got < k) {
    dist.poll();  // the stored-graph path computes no distance per pick
    std::int64_t best = -1, most = 0;
    for (std::int64_t i = 0; i < n; ++i) {
      if (!b.picked[i] && b.deg[i] > most) {
        most = b.deg[i];
        best = i;
      }
    }
    if (best < 0) break;  // everything covered
    picks[got++] = best;
    b.picked[best] = 1;
    // Newly covered: the uncovered members of best's ball; each leaves the degree of every
    // candidate whose ball holds it (the graph is symmetric: the members of its own ball).
    std::int64_t nf = 0;
    if (stored) {
      if (!b.covered[best]) b.fresh[nf++] = std::int32_t(best);
      for (std::int64_t e = b.adj_start[best]; e < b.adj_start[best + 1]; ++e) {
        if (!b.covered[b.adj[e]]) b.fresh[nf++] = b.adj[e];
      }
    } else {
      dist.row(std::int32_t(best), b.pos, n, [&](std::int64_t j, std::int64_t v) {
        if (v <= delta && !b.covered[j]) b.fresh[nf++] = std::int32_t(j);
      });
    }
    for (std::int64_t f = 0; f < nf; ++f) b.covered[b.fresh[f]] = 1;
    if (stored) {
      for (std::int64_t f = 0; f < nf; ++f) {
        const std::int32_t j = b.fresh[f];
        --b.deg[j];
        for (std::int64_t e = b.adj_start[j]; e < b.adj_start[j + 1]; ++e) --b.deg[b.adj[e]];
      }
    } else {
      dist.cross(b.fresh, nf, b.pos, n, [&](std::int64_t, std::int64_t i, std::int64_t v) {
        if (v <= delta) --b.deg[i];
      });
    }
  }
  if (got < k) {  // farthest-first from the picks so far
    std::fill(b.mind, b.mind + n, kNoDist);
    for (std::int64_t t = 0; t < got; ++t) {
      dist.row(std::int32_t(picks[t]), b.pos, n, [&](std::int64_t i, std::int64_t v) {
        if (v < b.mind[i]) b.mind[i] = v;
      });
    }
    farthest_first(dist, b.pos, n, picks, got, k, b.mind, b.picked, nullptr);
  }
}

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

}  // namespace

std::size_t pool_select_scratch_bytes(PoolRule rule, std::int64_t n, std::int64_t d, std::int64_t k,
                                      const PoolParams& params) {
  check_shape(rule, n, d, k, params);
  Carve cv(nullptr);
  Buffers b;
  layout(rule, n, d, k, params, cv, b);
  const std::uint64_t bytes = cv.used() + 64;  // + alignment of the caller's pointer
  if (bytes > std::uint64_t(std::numeric_limits<std::size_t>::max())) {
    throw std::invalid_argument("pool selection scratch does not fit in memory on this platform");
  }
  return std::size_t(bytes);
}

void pool_select(PoolRule rule, const PoolCandidates& c, std::int64_t k, std::uint64_t seed,
                 const PoolParams& params, std::int64_t* picks, void* scratch,
                 std::size_t scratch_bytes, const char* kernels) {
  const std::size_t need = pool_select_scratch_bytes(rule, c.n, c.d, k, params);
  require(picks != nullptr, "picks is NULL");
  const PoolKernels kern = pool_dot_kernel(kernels);
  const std::string quoted = std::string("pool rule '") + kPoolRuleNames[int(rule)] + "'";
  if (pool_rule_takes_scores(rule)) {
    require(c.scores != nullptr, quoted + " needs scores (int64 keys, smaller = more informative)");
  } else {
    require(c.embeddings != nullptr, "embeddings is NULL");
    require(c.row_stride >= c.d, "row_stride must be >= d");
    require(c.scores == nullptr, quoted + " takes no scores (pass NULL)");
  }
  if (rule == PoolRule::ClassBalanced) {
    require(c.classes != nullptr, quoted + " needs classes (int64 predicted classes >= 0)");
    for (std::int64_t i = 0; i < c.n; ++i) require(c.classes[i] >= 0, "classes must be >= 0");
    require(c.num_labeled_counts >= 0, "the number of labeled counts must be >= 0");
    require(c.num_labeled_counts == 0 || c.labeled_counts != nullptr, "labeled_counts is NULL");
    for (std::int64_t i = 0; i < c.num_labeled_counts; ++i) {
      require(c.labeled_counts[i] >= 0 && c.labeled_counts[i] <= kPoolMaxLabeledCount,
              "labeled_counts must be in 0..2^62");
    }
  } else {
    require(c.classes == nullptr, quoted + " takes no classes (pass NULL)");
    require(c.num_labeled_counts == 0, quoted + " takes no labeled counts (only classbalanced does)");
  }
  if (c.pool_index) {
    for (std::int64_t i = 0; i < c.n; ++i) require(c.pool_index[i] >= 0, "pool_indices must be >= 0");
  }
  std::vector<unsigned char> own;
  if (scratch == nullptr) {
    own.resize(need);
    scratch = own.data();
    scratch_bytes = need;
  }
  require(scratch_bytes >= need, "scratch holds " + std::to_string(scratch_bytes) + " bytes; " +
                                     std::to_string(need) + " needed");
  auto* base = reinterpret_cast<unsigned char*>(
      (reinterpret_cast<std::uintptr_t>(scratch) + 63) & ~std::uintptr_t(63));
  Carve cv(base);
  Buffers b;
  layout(rule, c.n, c.d, k, params, cv, b);
  if (rule == PoolRule::Power) {
    power(c, b, k, seed, params, picks);
    return;
  }
  if (rule == PoolRule::ClassBalanced) {
    class_balanced(c, b, k, seed, params, picks);
    return;
  }
  // Rows padded with zeros to a multiple of 16, squared norms, positions.
  const std::int64_t n = c.n, stride = padded_dim(c.d);
  for (std::int64_t i = 0; i < n; ++i) {
    const std::int8_t* src = c.embeddings + i * c.row_stride;
    std::int8_t* dst = b.rows + i * stride;
    std::int32_t norm = 0;
    for (std::int64_t t = 0; t < c.d; ++t) {
      dst[t] = src[t];
      norm += std::int32_t(src[t]) * std::int32_t(src[t]);
    }
    for (std::int64_t t = c.d; t < stride; ++t) dst[t] = 0;
    b.norms[i] = norm;
    b.pos[i] = std::int32_t(i);
  }
  const Dist dist{b.rows, stride, b.norms, b.tile, b.wide, kern.dot, kern.dot16, params.cancel};
  switch (rule) {
    case PoolRule::KCenter:
      kcenter_seeds(dist, b, n, k, c.pool_index, seed, picks, nullptr);
      break;
    case PoolRule::TypiClust:
      typiclust(dist, b, n, k, c.pool_index, seed, params, picks);
      break;
    case PoolRule::ProbCover:
      probcover(dist, b, n, k, params, picks);
      break;
    case PoolRule::Power:
    case PoolRule::ClassBalanced:
      break;
  }
}

}  // namespace fdal
