// The candidates of a pool-level strategy (docs/selection.md, "Strategies"): of the images pushed,
// the `cap` with the smallest (random key, pool index), so the set depends neither on batching nor
// on threads; with what the rules and a shard part read: each one's random key, margin key,
// predicted class and (embedding rules) int8 embedding row. Everything is allocated at creation:
// cap x (dim + 28) bytes plus 4 cap of heap slots.
#pragma once
#include <cstdint>
#include <vector>

namespace fdal {

class CandidateStore {
 public:
  CandidateStore() = default;
  CandidateStore(std::int64_t cap, std::int64_t dim);

  std::int64_t size() const { return std::int64_t(heap_.size()); }
  std::int64_t cap() const { return cap_; }
  std::int64_t dim() const { return dim_; }  // embedding bytes per candidate (0: none kept)
  // Whether an image with this random key and pool index would be kept (always while not full).
  // The worst kept candidate only improves, so a false stays false for the rest of the pool.
  bool admits(std::uint64_t rkey, std::int64_t index) const;
  // Keeps the image if admits(); row: dim() bytes (ignored when dim() is 0).
  void push(std::uint64_t rkey, std::int64_t index, std::int64_t margin_key, std::int32_t cls,
            const std::int8_t* row);
  // Permutes the candidates into ascending pool-index order in place (one row of temp); the store
  // stays valid for more pushes. The arrays below then list candidate j at position j.
  void sort_by_index();

  const std::int64_t* indices() const { return index_.data(); }
  const std::uint64_t* random_keys() const { return rkey_.data(); }
  const std::int64_t* margin_keys() const { return margin_.data(); }
  const std::int32_t* classes() const { return class_.data(); }
  const std::int8_t* embeddings() const { return embedding_.data(); }  // size() x dim()

 private:
  // Slot s holds candidate s; heap_ is a max-heap of slots under (random key, pool index): its top
  // is the first candidate to drop.
  bool slot_less(std::int32_t a, std::int32_t b) const;
  void sift_down(std::size_t pos);
  void sift_up(std::size_t pos);
  std::int64_t cap_ = 0, dim_ = 0;
  std::vector<std::int8_t> embedding_;
  std::vector<std::uint64_t> rkey_;
  std::vector<std::int64_t> index_, margin_;
  std::vector<std::int32_t> class_;
  std::vector<std::int32_t> heap_;
};

}  // namespace fdal
