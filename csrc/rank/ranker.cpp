#include "rank/ranker.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>

#include "runtime/executor.h"

namespace fdal {

Ranker::Ranker(const Model& model, Strategy strategy, std::int64_t k, std::uint64_t seed,
               std::int32_t threads, std::int64_t cap, std::int64_t start_index)
    : model_(model), strategy_(strategy), k_(k), seed_(seed), threads_(threads), start_index_(start_index),
      top_(strategy_is_pool_level(strategy) ? 1 : k) {
  if (start_index < 0 || start_index > (std::int64_t(1) << 62)) {
    throw std::invalid_argument("start_index must be in 0..2^62, got " + std::to_string(start_index));
  }
  if (threads < 1) throw std::invalid_argument("threads must be at least 1, got " + std::to_string(threads));
  if (strategy_info(strategy).needs_sampler && !model.has_sampler()) {
    throw std::invalid_argument(std::string("strategy '") + strategy_name(strategy) +
                                "' needs a model with a sampler (score layer); this model has none");
  }
  if (strategy_is_pool_level(strategy)) {
    if (k < 1) throw std::invalid_argument("k must be positive, got " + std::to_string(k));
    if (cap < 1) throw std::invalid_argument("cap must be at least 1, got " + std::to_string(cap));
    if (cap > kPoolMaxCandidates) throw std::invalid_argument("cap must be at most 2147483647");
    if (k > cap) {
      throw std::invalid_argument("k=" + std::to_string(k) + " is larger than the number of candidates " +
                                  std::to_string(cap) + " (cap=" + std::to_string(cap) + ")");
    }
    if (strategy_needs_embedding(strategy) && !model.has_embedding()) {
      throw std::invalid_argument(std::string("strategy '") + strategy_name(strategy) +
                                  "' needs per-image embeddings, but this model has no embedding output; "
                                  "re-export it with `fdal export` (format 2.0 writes the student's embedding)");
    }
    const std::int64_t dim = strategy_needs_embedding(strategy) ? model.embedding_dim() : 0;
    candidates_ = CandidateStore(cap, dim);
    embedding_raw_.resize(std::size_t(kChunk * threads * dim));
  }
  if (strategy == Strategy::Random) return;  // keys from the index only: no forward pass, no buffers
  // A chunk is kChunk images per thread; forward_raw_threads runs it with one Workspace each.
  workspaces_.reserve(std::size_t(threads));
  for (std::int32_t t = 0; t < threads; ++t) workspaces_.emplace_back(model);
  logits_raw_.resize(std::size_t(kChunk * threads * model.num_classes));
  score_raw_.resize(std::size_t(kChunk * threads));
}

void Ranker::push(const ImageView& images, const std::int64_t* pool_indices) {
  const TensorShape& s = model_.input_shape;
  if (images.h != s.h || images.w != s.w || images.c != s.c) {
    throw std::invalid_argument("batch images have shape (" + std::to_string(images.h) + ", " +
                                std::to_string(images.w) + ", " + std::to_string(images.c) +
                                ") but the model expects (" + std::to_string(s.h) + ", " +
                                std::to_string(s.w) + ", " + std::to_string(s.c) + ")");
  }
  const std::int64_t base = start_index_ + seen_;
  auto index_of = [&](std::int64_t i) { return pool_indices != nullptr ? pool_indices[i] : base + i; };
  std::int64_t last = last_index_;
  for (std::int64_t i = 0; i < images.n; ++i) {  // explicit indices: every one; implicit: the first
    const std::int64_t index = index_of(i);
    if (index <= last || index > (std::int64_t(1) << 62)) {
      throw std::invalid_argument("pool index " + std::to_string(index) + " of pushed image " + std::to_string(i) +
                                  " must be in 0..2^62 and above the previous one (" + std::to_string(last) +
                                  "): pool indices ascend strictly");
    }
    last = index;
    if (pool_indices == nullptr) break;
  }
  if (images.n > 0) last_index_ = index_of(images.n - 1);
  if (strategy_ == Strategy::Random) {  // the key depends on the index only: no forward pass
    for (std::int64_t i = 0; i < images.n; ++i) top_.push(random_key(seed_, index_of(i)), index_of(i));
    seen_ += images.n;
    return;
  }
  const float unit = model_.layers[std::size_t(model_.logits_layer)].out_scale;
  const std::int32_t classes = model_.num_classes;
  const std::int64_t chunk_images = kChunk * threads_;
  const bool pool_level = strategy_is_pool_level(strategy_);
  for (std::int64_t start = 0; start < images.n; start += chunk_images) {
    ImageView chunk = images;
    chunk.data = images.image(start);
    chunk.n = std::min(chunk_images, images.n - start);
    if (pool_level) {
      // No forward pass for a chunk none of whose images can enter the candidates (the worst
      // kept candidate only improves while the chunk is pushed).
      bool any = false;
      for (std::int64_t i = 0; i < chunk.n && !any; ++i) {
        const std::int64_t index = index_of(start + i);
        any = candidates_.admits(random_key(seed_, index), index);
      }
      if (!any) continue;
    }
    const std::int64_t dim = candidates_.dim();
    std::int32_t* score_out = model_.has_sampler() && !pool_level ? score_raw_.data() : nullptr;
    std::int8_t* embedding_out = dim > 0 ? embedding_raw_.data() : nullptr;
    forward_raw_threads(model_, chunk, threads_, logits_raw_.data(), score_out, &workspaces_, embedding_out);
    forwarded_ += chunk.n;
    for (std::int64_t i = 0; i < chunk.n; ++i) {
      const std::int32_t* logits = logits_raw_.data() + i * classes;
      if (pool_level) {
        const std::int64_t index = index_of(start + i);
        candidates_.push(random_key(seed_, index), index, margin(logits, classes),
                         predicted_class(logits, classes), dim > 0 ? embedding_raw_.data() + i * dim : nullptr);
        continue;
      }
      std::uint64_t key = 0;
      switch (strategy_) {  // no default: a new per-image strategy must say its key here
        case Strategy::Fdal: key = fdal_key(score_raw_[std::size_t(i)]); break;
        case Strategy::Margin: key = encode_int64(margin(logits, classes)); break;
        case Strategy::Entropy: key = encode_double(negative_entropy(logits, classes, unit)); break;
        case Strategy::Random:  // handled above (no forward pass)
        case Strategy::KCenter:  // pool-level: candidates above
        case Strategy::TypiClust:
        case Strategy::ProbCover:
        case Strategy::Power:
        case Strategy::ClassBalanced:
          break;
      }
      top_.push(key, index_of(start + i));
    }
  }
  seen_ += images.n;
}

const CandidateStore& Ranker::finish_candidates() const {
  if (!strategy_is_pool_level(strategy_)) {
    throw std::invalid_argument(std::string("strategy '") + strategy_name(strategy_) +
                                "' ranks by a per-image key and keeps no candidates (pool-level strategies do)");
  }
  candidates_.sort_by_index();
  return candidates_;
}

std::vector<TopK::Entry> Ranker::finish_entries(const std::atomic<bool>* cancel) const {
  if (strategy_is_pool_level(strategy_)) {
    const std::int64_t n = candidates_.size();
    if (n == 0) throw std::invalid_argument("the pool is empty");
    if (k_ > n) {
      throw std::invalid_argument("k=" + std::to_string(k_) + " is larger than the number of candidates " +
                                  std::to_string(n) + " (pool size " + std::to_string(seen_) + ", cap " +
                                  std::to_string(candidates_.cap()) + ")");
    }
    finish_candidates();  // pool-index order: the rule's candidate positions

    PoolParams params;
    params.unit = double(model_.layers[std::size_t(model_.logits_layer)].out_scale);
    params.cancel = cancel;
    PoolCandidates c;
    const PoolRule rule = strategy_info(strategy_).rule;
    c.n = n;
    c.pool_index = candidates_.indices();
    std::vector<std::int64_t> classes;  // the rule takes int64; kept as int32 (4 bytes each)
    if (pool_rule_takes_scores(rule)) {
      c.scores = candidates_.margin_keys();
      if (rule == PoolRule::ClassBalanced) {
        classes.assign(candidates_.classes(), candidates_.classes() + n);
        c.classes = classes.data();
        c.labeled_counts = labeled_counts_.data();
        c.num_labeled_counts = std::int64_t(labeled_counts_.size());
      }
    } else {
      c.embeddings = candidates_.embeddings();
      c.d = candidates_.dim();
      c.row_stride = candidates_.dim();
    }
    std::vector<std::int64_t> picks(static_cast<std::size_t>(k_));
    pool_select(rule, c, k_, seed_, params, picks.data(), nullptr, 0, model_.kernels);
    std::vector<TopK::Entry> entries;
    entries.reserve(picks.size());
    for (std::int64_t p : picks) {
      entries.emplace_back(encode_int64(candidates_.margin_keys()[p]), candidates_.indices()[p]);
    }
    return entries;
  }
  if (k_ > seen_) {
    throw std::invalid_argument("k=" + std::to_string(k_) + " is larger than the pool size " +
                                std::to_string(seen_));
  }
  return top_.sorted();
}

void Ranker::set_labeled_counts(const std::int64_t* counts, std::int64_t n) {
  if (strategy_ != Strategy::ClassBalanced) {
    throw std::invalid_argument(std::string("strategy '") + strategy_name(strategy_) +
                                "' takes no labeled counts (only classbalanced does)");
  }
  if (n != model_.num_classes) {
    throw std::invalid_argument("labeled_counts has " + std::to_string(n) + " entries; the model has " +
                                std::to_string(model_.num_classes) + " classes");
  }
  if (n > 0 && counts == nullptr) throw std::invalid_argument("labeled_counts is NULL");
  for (std::int64_t i = 0; i < n; ++i) {
    if (counts[i] < 0 || counts[i] > kPoolMaxLabeledCount) {
      throw std::invalid_argument("labeled_counts[" + std::to_string(i) + "] = " + std::to_string(counts[i]) +
                                  " must be in 0..2^62");
    }
  }
  labeled_counts_.assign(counts, counts + n);
}

std::vector<std::int64_t> Ranker::finish(const std::atomic<bool>* cancel) const {
  const std::vector<TopK::Entry> entries = finish_entries(cancel);
  std::vector<std::int64_t> indices;
  indices.reserve(entries.size());
  for (const TopK::Entry& e : entries) indices.push_back(e.second);
  return indices;
}

}  // namespace fdal
