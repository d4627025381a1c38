// Ranker: streams batches of raw images, keeps the k best (key, pool index) pairs, and returns
// the k indices best first. Memory O(k + chunk); results do not depend on how the pool is split
// into batches (keys use the global pool index). One Ranker per thread; the Model is shared.
#pragma once
#include <cstdint>
#include <vector>

#include "kernels/kernel_params.h"
#include "model/model.h"
#include "rank/keys.h"
#include "rank/top_k.h"
#include "runtime/workspace.h"

namespace fdal {

class Ranker {
 public:
  // Throws std::invalid_argument for k <= 0, or "fdal" on a model without a sampler.
  // threads >= 1: each pushed batch is split across that many threads (a Workspace each); the
  // result is identical for any thread count.
  Ranker(const Model& model, Strategy strategy, std::int64_t k, std::uint64_t seed,
         std::int32_t threads = 1);
  // The next images of the pool (indices seen() .. seen() + n - 1).
  void push(const ImageView& images);
  // The k best pool indices, best first. Throws std::invalid_argument when fewer than k images
  // were pushed.
  std::vector<std::int64_t> finish() const;
  // finish() with each chosen image's encoded key (keys.h), best first; the same checks.
  std::vector<TopK::Entry> finish_entries() const;
  std::int64_t seen() const { return seen_; }
  Strategy strategy() const { return strategy_; }

 private:
  static constexpr std::int64_t kChunk = 64;  // images per forward call
  const Model& model_;
  Strategy strategy_;
  std::int64_t k_;
  std::uint64_t seed_;
  std::int32_t threads_;
  std::int64_t seen_ = 0;
  // One per thread and the raw outputs of one chunk, made once (empty for "random").
  std::vector<Workspace> workspaces_;
  std::vector<std::int32_t> logits_raw_, score_raw_;
  TopK top_;
};

}  // namespace fdal
