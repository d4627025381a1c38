// TopK: the k smallest (key, index) pairs seen so far, ties to the lower index. A bounded max-heap
// whose top is the worst kept pair: memory O(k) however many pairs are pushed.
#pragma once
#include <cstdint>
#include <utility>
#include <vector>

namespace fdal {

class TopK {
 public:
  using Entry = std::pair<std::uint64_t, std::int64_t>;  // (encoded key, pool index)

  explicit TopK(std::int64_t k);
  void push(std::uint64_t key, std::int64_t index);
  std::int64_t size() const { return std::int64_t(heap_.size()); }
  // The kept pairs, best first (smallest key, then lower index).
  std::vector<Entry> sorted() const;

 private:
  std::int64_t k_;
  std::vector<Entry> heap_;  // max-heap under pair's operator<
};

}  // namespace fdal
