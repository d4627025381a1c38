// Ranker: streams batches of raw images, keeps the k best (key, pool index) pairs, and returns
// the k indices best first. Memory O(k + chunk); results do not depend on how the pool is split
// into batches (keys use the global pool index). One Ranker per thread; the Model is shared.
// Pool-level strategies (kcenter, typiclust, probcover, power, classbalanced; docs/selection.md)
// keep the `cap` images with the smallest random_key(seed, index) (the "random" order, so the
// candidate set does not depend on batching or threads) in a CandidateStore (rank/candidate_store.h:
// int8 embeddings, margin keys, predicted classes, allocated at creation); finish() runs the
// rule (rank/pool_select.h, default PoolParams, power's and classbalanced's unit = the logits
// unit) on the candidates ordered by pool index (its scratch, pool_select_scratch_bytes for n =
// candidates, and for classbalanced the classes widened to int64, are allocated there) and
// returns pool indices in pick order.
#pragma once
#include <cstdint>
#include <vector>

#include "kernels/kernel_params.h"
#include "model/model.h"
#include "rank/candidate_store.h"
#include "rank/keys.h"
#include "rank/pool_select.h"
#include "rank/strategy_table.h"
#include "rank/top_k.h"
#include "runtime/workspace.h"

namespace fdal {

class Ranker {
 public:
  // Throws std::invalid_argument for k <= 0, or "fdal" on a model without a sampler.
  // threads >= 1: each pushed batch is split across that many threads (a Workspace each); the
  // result is identical for any thread count.
  // Pool-level strategies: cap >= 1 candidates (else std::invalid_argument), and kcenter,
  // typiclust, probcover need a model with an embedding; cap is ignored by the others.
  // start_index >= 0: the pool index of the first pushed image (a shard of a larger pool ranks
  // with the whole pool's indices, so random keys and ties match; else std::invalid_argument).
  static constexpr std::int64_t kDefaultCap = 10000;
  Ranker(const Model& model, Strategy strategy, std::int64_t k, std::uint64_t seed,
         std::int32_t threads = 1, std::int64_t cap = kDefaultCap, std::int64_t start_index = 0);
  // classbalanced: the images already labeled per class (num_classes entries, each 0..2^62,
  // copied), so the picks balance the whole labeled set (rank/pool_select.h). Throws
  // std::invalid_argument for another strategy, a wrong length or a bad count.
  void set_labeled_counts(const std::int64_t* counts, std::int64_t n);
  // The next images of the pool. pool_indices: each image's pool index (n entries, 0..2^62), or
  // null: start_index + seen() .. start_index + seen() + n - 1. Indices ascend strictly over all
  // pushes (a caller that picked its rows ahead, such as a shard's candidates, passes them in
  // order); std::invalid_argument otherwise, before anything is ranked.
  void push(const ImageView& images, const std::int64_t* pool_indices = nullptr);
  // The k best pool indices, best first (pool-level: in pick order). Throws std::invalid_argument
  // when fewer than k images were pushed (pool-level: when k > the number of candidates).
  // cancel (pool-level strategies): PoolParams::cancel, to stop a long selection from another thread.
  std::vector<std::int64_t> finish(const std::atomic<bool>* cancel = nullptr) const;
  // finish() with each chosen image's encoded key (keys.h), best first; the same checks.
  // Pool-level strategies: each pick's margin key (encode_int64), in pick order.
  std::vector<TopK::Entry> finish_entries(const std::atomic<bool>* cancel = nullptr) const;
  // Pool-level strategies: the candidates kept so far, in ascending pool-index order (pool index,
  // random key, margin key, predicted class, embedding row): what a shard part stores and what
  // the rule reads. Valid until the next push; std::invalid_argument for a per-image strategy.
  const CandidateStore& finish_candidates() const;
  std::int64_t seen() const { return seen_; }  // images pushed (not counting start_index)
  std::int64_t forwarded() const { return forwarded_; }  // images run through the model
  Strategy strategy() const { return strategy_; }

 private:
  static constexpr std::int64_t kChunk = 64;  // images per forward call
  const Model& model_;
  Strategy strategy_;
  std::int64_t k_;
  std::uint64_t seed_;
  std::int32_t threads_;
  std::int64_t seen_ = 0;
  std::int64_t forwarded_ = 0;
  std::int64_t start_index_ = 0;
  std::int64_t last_index_ = -1;  // the last pushed image's pool index
  // One per thread and the raw outputs of one chunk, made once (empty for "random").
  std::vector<Workspace> workspaces_;
  std::vector<std::int32_t> logits_raw_, score_raw_;
  std::vector<std::int8_t> embedding_raw_;  // one chunk's embeddings (kcenter, typiclust, probcover)
  TopK top_;
  // Pool-level: the candidates (rank/candidate_store.h); finish() sorts them by pool index in place.
  mutable CandidateStore candidates_;
  std::vector<std::int64_t> labeled_counts_;  // classbalanced: set_labeled_counts, else empty
};

}  // namespace fdal
