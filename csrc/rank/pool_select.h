// Pool-level selection rules over int8 embeddings (docs/selection.md is the exact spec; the numpy
// oracle fdal.oracle.pool_select is the ground truth, bit for bit):
//   kcenter    greedy farthest-first k-center (Sener & Savarese)
//   typiclust  k-center cells, most typical member (smallest sum of squared kNN distances) per cell
//   probcover  greedy max coverage of delta-balls, delta from the data; then farthest-first
//   power      seeded Gumbel-top-k of s_i^beta, s_i = 1 / (1 + (key_i - min key) * unit)
//   classbalanced  water-filling over predicted classes (each pick to the class with the fewest
//              labeled + picked so far; without labeled counts a round robin, the rarest first),
//              power's order within each class
// Inputs: E int8 (n, d), row r at embeddings + r * row_stride; optional pool indices (int64 >= 0,
// seed the random keys so picks do not depend on candidate order; default: the position); score
// keys int64 (power, classbalanced; smaller = more informative); predicted classes int64 >= 0
// (classbalanced only) and optionally the images already labeled per class (classbalanced).
// Output: k distinct positions in pick order.
// Ties always go to the lowest position. Squared L2 distances are int64 (up to 65025 * d: int32
// would overflow past d = 33,025), dot products int32 (exact: |dot| <= 2^14 * d <= 2^30 for
// d <= 65536), squared norms int32 (<= 2^14 * d).
//
// Memory: everything lives in one caller-sized scratch buffer (pool_select_scratch_bytes); the
// selection allocates nothing else. With D = d rounded up to 16, B = 64 (tile side), Kt =
// max(1, min(k_nn, n / 2)), Kp = max(1, min(k_nn, n - 1)), c = min(k, max_cells), every region
// 64-byte aligned (+ 64 bytes for the caller's pointer):
//   not power   n D (rows, zero-padded) + 4 n (squared norms) + 4 n (positions) + 4 B^2 (tile)
//               + 8 n (min distance) + n (picked)
//   typiclust,  + 256 D (two tiles of B rows widened to int16 for the pairwise passes)
//   probcover
//   typiclust   + 4 n (cell) + 8 c (seeds) + 4 n (members) + 4 (c + 1) (cell starts)
//               + 8 n Kt (kNN lists) + 4 n (list fill) + 8 n (sums) + 8 c (visit order, taken)
//   probcover   + 8 n Kp (kNN lists) + 4 n (fill) + 8 n (K-th distances) + 8 n (degree)
//               + n (covered) + 4 n (newly covered) + 512 n (the ball graph, kept when it has
//               <= 32 n edges) + 8 (n + 1) (its list starts)
//   power       8 n (keys) + 8 n (random keys) + 4 n (order)
//   classbalanced  power's + 4 (n + 1) (class group starts) + 4 n (heap) + 4 n (taken)
// e.g. n = 10,000, d = 256, k = 100: kcenter 2.7 MB, typiclust 4.6 MB, probcover 9.9 MB,
// power 0.2 MB, classbalanced 0.32 MB (tests/runtime/test_pool_select.py checks these). A
// streaming ranker holding at most `cap` candidates needs cap x d bytes for their embeddings plus these buffers for n = cap.
// Time: kcenter O(k n d); typiclust O(c n d + sum over cells of m^2 d) <= O(c n d + n^2 d / 2);
// probcover O(n^2 d) for delta and the degrees (half the pairs each), then O(edges) with the graph
// kept, else O(n d) per pick and per newly covered candidate (<= (k + n) n d); power O(n log k)
// (a partial sort); classbalanced O(n log n + k log classes) (a full sort by class, then
// power's order; a heap of the classes).
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace fdal {

struct KernelTable;  // kernels/kernel_table.h

// None: not a rule (a per-image strategy's row in rank/strategy_table.h); never selects.
enum class PoolRule { None = -1, KCenter, TypiClust, ProbCover, Power, ClassBalanced };
constexpr int kNumPoolRules = 5;
// "kcenter", "typiclust", "probcover", "power", "classbalanced"
extern const char* const kPoolRuleNames[kNumPoolRules];
// power and classbalanced rank per-image keys (scores) and read no embedding.
constexpr bool pool_rule_takes_scores(PoolRule r) { return r == PoolRule::Power || r == PoolRule::ClassBalanced; }
constexpr std::int64_t kPoolMaxDim = 65536;
constexpr std::int64_t kPoolMaxCandidates = 2147483647;  // positions are int32 inside
constexpr std::int64_t kPoolMaxLabeledCount = std::int64_t(1) << 62;  // count + picks cannot overflow

// std::invalid_argument naming the known rules.
PoolRule parse_pool_rule(const std::string& name);

struct PoolParams {
  std::int32_t min_cluster_size = 5;  // typiclust: cells of at most this size are visited last
  std::int32_t k_nn = 20;             // typiclust: typicality K; probcover: K of delta
  std::int32_t max_cells = 500;       // typiclust: cells = min(k, max_cells)
  std::int64_t delta = -1;            // probcover: ball radius (squared L2); < 0: from the data
  double beta = 1.0;                  // power, classbalanced: exponent (>= 0; +inf = top-k of the key)
  double unit = 1.0;                  // power, classbalanced: key scale (> 0, finite)
  // Set by another thread to stop a long selection (Ctrl-C): kcenter, typiclust and probcover poll
  // it every 4,096 distances and throw SelectionCancelled; null: never cancelled.
  const std::atomic<bool>* cancel = nullptr;
};

// What pool_select throws when params.cancel was set; the picks are then undefined.
struct SelectionCancelled : std::runtime_error {
  SelectionCancelled() : std::runtime_error("pool selection cancelled") {}
};

struct PoolCandidates {
  const std::int8_t* embeddings = nullptr;  // n x d (not read by power, classbalanced; may be null)
  std::int64_t n = 0, d = 0;
  std::int64_t row_stride = 0;              // bytes between rows (>= d)
  const std::int64_t* pool_index = nullptr; // n, or null (position)
  const std::int64_t* scores = nullptr;     // n (power, classbalanced), null otherwise
  const std::int64_t* classes = nullptr;    // n predicted classes >= 0 (classbalanced), null otherwise
  // classbalanced: images already labeled per class (index = class; classes past the end: 0),
  // 0..2^62 each; balances the whole labeled set instead of only the picks. Others: none.
  const std::int64_t* labeled_counts = nullptr;
  std::int64_t num_labeled_counts = 0;
};

// Bytes of scratch the selection needs; std::invalid_argument for bad shapes, k or params.
std::size_t pool_select_scratch_bytes(PoolRule rule, std::int64_t n, std::int64_t d, std::int64_t k,
                                      const PoolParams& params);

// Writes k positions to picks. scratch: pool_select_scratch_bytes(...) bytes, any alignment
// (null: allocated here, once). kernels: the table whose pool_dot slots compute the distances
// (every table gives the same picks); null: select_kernel_table() (FDAL_KERNELS, else the best
// path this CPU runs).
// std::invalid_argument for any bad argument (message names it).
void pool_select(PoolRule rule, const PoolCandidates& c, std::int64_t k, std::uint64_t seed,
                 const PoolParams& params, std::int64_t* picks, void* scratch = nullptr,
                 std::size_t scratch_bytes = 0, const KernelTable* kernels = nullptr);

}  // namespace fdal
