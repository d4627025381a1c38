// The pool-level rules over int8 embeddings: kcenter, typiclust, probcover (rank/pool_select.h;
// docs/selection.md is the spec, fdal.oracle.pool_select the ground truth).
#include <algorithm>
#include <cstdint>

#include "rank/keys.h"
#include "rank/pool_select_detail.h"

namespace fdal {
namespace pool_detail {

namespace {

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

}  // namespace

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

}  // namespace pool_detail
}  // namespace fdal
