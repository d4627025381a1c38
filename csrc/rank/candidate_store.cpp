#include "rank/candidate_store.h"

#include <algorithm>
#include <cstring>
#include <numeric>

namespace fdal {

CandidateStore::CandidateStore(std::int64_t cap, std::int64_t dim)
    : cap_(cap), dim_(dim), embedding_(std::size_t(cap * dim)), rkey_(std::size_t(cap)),
      index_(std::size_t(cap)), margin_(std::size_t(cap)), class_(std::size_t(cap)) {
  heap_.reserve(std::size_t(cap));
}

bool CandidateStore::admits(std::uint64_t rkey, std::int64_t index) const {
  if (std::int64_t(heap_.size()) < cap_) return true;
  const std::int32_t top = heap_.front();
  const std::uint64_t r = rkey_[std::size_t(top)];
  return rkey < r || (rkey == r && index < index_[std::size_t(top)]);
}

bool CandidateStore::slot_less(std::int32_t a, std::int32_t b) const {
  const std::uint64_t ra = rkey_[std::size_t(a)], rb = rkey_[std::size_t(b)];
  return ra < rb || (ra == rb && index_[std::size_t(a)] < index_[std::size_t(b)]);
}

void CandidateStore::sift_up(std::size_t pos) {
  while (pos > 0) {
    const std::size_t parent = (pos - 1) / 2;
    if (!slot_less(heap_[parent], heap_[pos])) break;
    std::swap(heap_[parent], heap_[pos]);
    pos = parent;
  }
}

void CandidateStore::sift_down(std::size_t pos) {
  const std::size_t n = heap_.size();
  for (;;) {
    std::size_t worst = pos;
    const std::size_t l = 2 * pos + 1, r = l + 1;
    if (l < n && slot_less(heap_[worst], heap_[l])) worst = l;
    if (r < n && slot_less(heap_[worst], heap_[r])) worst = r;
    if (worst == pos) return;
    std::swap(heap_[pos], heap_[worst]);
    pos = worst;
  }
}

void CandidateStore::push(std::uint64_t rkey, std::int64_t index, std::int64_t margin_key,
                          std::int32_t cls, const std::int8_t* row) {
  std::int32_t slot;
  const bool grow = std::int64_t(heap_.size()) < cap_;
  if (grow) {
    slot = std::int32_t(heap_.size());
    heap_.push_back(slot);
  } else {
    slot = heap_.front();
    const std::uint64_t r = rkey_[std::size_t(slot)];
    if (!(rkey < r || (rkey == r && index < index_[std::size_t(slot)]))) return;
  }
  rkey_[std::size_t(slot)] = rkey;
  index_[std::size_t(slot)] = index;
  margin_[std::size_t(slot)] = margin_key;
  class_[std::size_t(slot)] = cls;
  if (dim_ > 0) std::memcpy(embedding_.data() + slot * dim_, row, std::size_t(dim_));
  if (grow) {
    sift_up(heap_.size() - 1);
  } else {
    sift_down(0);
  }
}

void CandidateStore::sort_by_index() {
  const std::int64_t n = size();
  // Slots into pool-index order, in place (one cycle per permutation cycle, one row of temp).
  std::vector<std::int32_t> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [this](std::int32_t a, std::int32_t b) {
    return index_[std::size_t(a)] < index_[std::size_t(b)];
  });
  std::vector<std::int32_t> new_slot(static_cast<std::size_t>(n));
  for (std::int64_t j = 0; j < n; ++j) new_slot[std::size_t(order[std::size_t(j)])] = std::int32_t(j);
  std::vector<std::int8_t> row(static_cast<std::size_t>(dim_));
  std::vector<bool> done(static_cast<std::size_t>(n), false);
  for (std::int64_t j = 0; j < n; ++j) {
    if (done[std::size_t(j)] || order[std::size_t(j)] == j) continue;
    // Position j takes order[j]'s contents, which takes order[order[j]]'s, ...
    const std::uint64_t rk = rkey_[std::size_t(j)];
    const std::int64_t ix = index_[std::size_t(j)], mk = margin_[std::size_t(j)];
    const std::int32_t cl = class_[std::size_t(j)];
    if (dim_ > 0) std::memcpy(row.data(), embedding_.data() + j * dim_, std::size_t(dim_));
    std::int64_t dst = j;
    for (;;) {
      done[std::size_t(dst)] = true;
      const std::int64_t src = order[std::size_t(dst)];
      if (src == j) break;
      rkey_[std::size_t(dst)] = rkey_[std::size_t(src)];
      index_[std::size_t(dst)] = index_[std::size_t(src)];
      margin_[std::size_t(dst)] = margin_[std::size_t(src)];
      class_[std::size_t(dst)] = class_[std::size_t(src)];
      if (dim_ > 0) {
        std::memcpy(embedding_.data() + dst * dim_, embedding_.data() + src * dim_, std::size_t(dim_));
      }
      dst = src;
    }
    rkey_[std::size_t(dst)] = rk;
    index_[std::size_t(dst)] = ix;
    margin_[std::size_t(dst)] = mk;
    class_[std::size_t(dst)] = cl;
    if (dim_ > 0) std::memcpy(embedding_.data() + dst * dim_, row.data(), std::size_t(dim_));
  }
  for (std::int32_t& slot : heap_) slot = new_slot[std::size_t(slot)];  // same heap, relabelled
}

}  // namespace fdal
