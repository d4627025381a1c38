// The internals shared by the pool selection rules (rank/pool_select.cpp: checks, scratch layout
// and the entry point; rank/pool_embedding_rules.cpp: kcenter, typiclust, probcover;
// rank/pool_score_rules.cpp: power, classbalanced). Not a public header.
#pragma once
#include <atomic>
#include <algorithm>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>

#include "kernels/pool_dot.h"
#include "rank/pool_select.h"

namespace fdal {
namespace pool_detail {

constexpr std::int64_t kTile = 64;  // B: tile side of the pairwise passes
constexpr std::int64_t kNoDist = std::numeric_limits<std::int64_t>::max();
constexpr std::int64_t kEdgeCap = 32;  // probcover keeps its ball graph when it has <= 32 n edges

inline void require(bool ok, const std::string& message) {
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

inline std::int64_t padded_dim(std::int64_t d) { return (d + 15) / 16 * 16; }
inline std::int64_t typiclust_cells(std::int64_t k, const PoolParams& p) { return std::min<std::int64_t>(k, p.max_cells); }
inline std::int64_t typiclust_list(std::int64_t n, const PoolParams& p) {
  return std::max<std::int64_t>(1, std::min<std::int64_t>(p.k_nn, n / 2));
}
inline std::int64_t probcover_list(std::int64_t n, const PoolParams& p) {
  return std::max<std::int64_t>(1, std::min<std::int64_t>(p.k_nn, n - 1));
}

void check_shape(PoolRule rule, std::int64_t n, std::int64_t d, std::int64_t k, const PoolParams& p);
// Carves the rule's buffers (pool_select.h, "Memory") out of cv, in a fixed order.
void layout(PoolRule rule, std::int64_t n, std::int64_t d, std::int64_t k, const PoolParams& p,
            Carve& cv, Buffers& b);

// Squared L2 distances between candidates: norm_a + norm_b - 2 dot (int64, exact).
struct Dist {
  const std::int8_t* rows;
  std::int64_t stride;
  const std::int32_t* norms;
  std::int32_t* tile;
  std::int16_t* wide;
  PoolDotS8Fn dot;     // the kernel table's pool_dot_s8
  PoolDotS16Fn dot16;  // and pool_dot_s16
  const std::atomic<bool>* cancel;  // PoolParams::cancel (null: never cancelled)

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

// The rules; picks: k positions in pick order (docs/selection.md).
void kcenter_seeds(const Dist& dist, const Buffers& b, std::int64_t n, std::int64_t k,
                   const std::int64_t* pool_index, std::uint64_t seed, std::int64_t* picks,
                   std::int32_t* cell);
void typiclust(const Dist& dist, const Buffers& b, std::int64_t n, std::int64_t k,
               const std::int64_t* pool_index, std::uint64_t seed, const PoolParams& p,
               std::int64_t* picks);
void probcover(const Dist& dist, const Buffers& b, std::int64_t n, std::int64_t k, const PoolParams& p,
               std::int64_t* picks);
void power(const PoolCandidates& c, const Buffers& b, std::int64_t k, std::uint64_t seed,
           const PoolParams& p, std::int64_t* picks);
void class_balanced(const PoolCandidates& c, const Buffers& b, std::int64_t k, std::uint64_t seed,
                    const PoolParams& p, std::int64_t* picks);

}  // namespace pool_detail
}  // namespace fdal
