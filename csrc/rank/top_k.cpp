#include "rank/top_k.h"

#include <algorithm>
#include <stdexcept>

namespace fdal {

TopK::TopK(std::int64_t k) : k_(k) {
  if (k <= 0) throw std::invalid_argument("k must be positive, got " + std::to_string(k));
  heap_.reserve(std::size_t(std::min<std::int64_t>(k, 1 << 16)));  // grows to k as pairs arrive
}

void TopK::push(std::uint64_t key, std::int64_t index) {
  const Entry e(key, index);
  if (std::int64_t(heap_.size()) < k_) {
    heap_.push_back(e);
    std::push_heap(heap_.begin(), heap_.end());
  } else if (e < heap_.front()) {
    std::pop_heap(heap_.begin(), heap_.end());
    heap_.back() = e;
    std::push_heap(heap_.begin(), heap_.end());
  }
}

std::vector<TopK::Entry> TopK::sorted() const {
  std::vector<Entry> out = heap_;
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace fdal
