// Pool-level selection (pool_select.h; docs/selection.md is the spec, fdal.oracle.pool_select the
// ground truth): the rule names, the argument checks, the scratch layout and the entry point. The
// rules themselves: pool_embedding_rules.cpp (kcenter, typiclust, probcover) and
// pool_score_rules.cpp (power, classbalanced).
#include "rank/pool_select.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <vector>

#include "kernels/kernel_table.h"
#include "rank/pool_select_detail.h"

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

namespace pool_detail {

void check_shape(PoolRule rule, std::int64_t n, std::int64_t d, std::int64_t k, const PoolParams& p) {
  require(int(rule) >= 0 && int(rule) < kNumPoolRules, "not a pool rule");
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

}  // namespace pool_detail

using namespace pool_detail;

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
                 std::size_t scratch_bytes, const KernelTable* kernels) {
  const std::size_t need = pool_select_scratch_bytes(rule, c.n, c.d, k, params);
  require(picks != nullptr, "picks is NULL");
  const KernelTable& kern = kernels != nullptr ? *kernels : select_kernel_table();
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
  const Dist dist{b.rows, stride, b.norms, b.tile, b.wide, kern.pool_dot_s8, kern.pool_dot_s16,
                   params.cancel};
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
    case PoolRule::None:  // rejected by check_shape
    case PoolRule::Power:  // ran above
    case PoolRule::ClassBalanced:
      break;
  }
}

}  // namespace fdal
