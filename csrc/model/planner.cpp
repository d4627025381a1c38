#include "model/planner.h"

#include <algorithm>
#include <numeric>

namespace fdal {

namespace {

constexpr std::int64_t kAlign = 64;

std::int64_t align_up(std::int64_t v) { return (v + kAlign - 1) / kAlign * kAlign; }

bool lifetimes_overlap(const PlannedTensor& a, const PlannedTensor& b) {
  return a.first_step <= b.last_step && b.first_step <= a.last_step;
}

}  // namespace

std::vector<std::int64_t> plan_greedy_by_size(const std::vector<PlannedTensor>& tensors,
                                              std::int64_t* arena_bytes) {
  const std::size_t n = tensors.size();
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), std::size_t(0));
  // Largest first; ties by index so the plan is deterministic.
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return tensors[a].bytes > tensors[b].bytes;
  });

  std::vector<std::int64_t> offsets(n, -1);
  std::vector<std::size_t> placed;
  std::int64_t total = 0;
  for (std::size_t t : order) {
    // Ranges already taken by tensors alive at the same time, by offset.
    std::vector<std::pair<std::int64_t, std::int64_t>> busy;
    for (std::size_t p : placed) {
      if (lifetimes_overlap(tensors[t], tensors[p])) {
        busy.emplace_back(offsets[p], offsets[p] + align_up(tensors[p].bytes));
      }
    }
    std::sort(busy.begin(), busy.end());
    // The lowest gap that fits.
    std::int64_t candidate = 0;
    const std::int64_t need = align_up(tensors[t].bytes);
    for (const auto& range : busy) {
      if (candidate + need <= range.first) break;
      candidate = std::max(candidate, range.second);
    }
    offsets[t] = candidate;
    total = std::max(total, candidate + need);
    placed.push_back(t);
  }
  *arena_bytes = total;
  return offsets;
}

}  // namespace fdal
