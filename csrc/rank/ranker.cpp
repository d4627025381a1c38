#include "rank/ranker.h"

#include <algorithm>
#include <cstring>
#include <numeric>
#include <stdexcept>
#include <string>

#include "runtime/executor.h"

namespace fdal {

namespace {

PoolRule pool_rule(Strategy s) {
  switch (s) {
    case Strategy::KCenter: return PoolRule::KCenter;
    case Strategy::TypiClust: return PoolRule::TypiClust;
    case Strategy::ProbCover: return PoolRule::ProbCover;
    case Strategy::ClassBalanced: return PoolRule::ClassBalanced;
    default: return PoolRule::Power;
  }
}

}  // namespace

Ranker::Ranker(const Model& model, Strategy strategy, std::int64_t k, std::uint64_t seed,
               std::int32_t threads, std::int64_t cap, std::int64_t start_index)
    : model_(model), strategy_(strategy), k_(k), seed_(seed), threads_(threads), start_index_(start_index),
      top_(strategy_is_pool_level(strategy) ? 1 : k) {
  if (start_index < 0 || start_index > (std::int64_t(1) << 62)) {
    throw std::invalid_argument("start_index must be in 0..2^62, got " + std::to_string(start_index));
  }
  if (threads < 1) throw std::invalid_argument("threads must be at least 1, got " + std::to_string(threads));
  if (strategy == Strategy::Fdal && !model.has_sampler()) {
    throw std::invalid_argument(
        "strategy 'fdal' needs a model with a sampler (score layer); this model has none");
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
    cap_ = cap;
    dim_ = strategy_needs_embedding(strategy) ? model.embedding_dim() : 0;
    cand_embedding_.resize(std::size_t(cap * dim_));
    cand_rkey_.resize(std::size_t(cap));
    cand_index_.resize(std::size_t(cap));
    cand_margin_.resize(std::size_t(cap));
    cand_class_.resize(std::size_t(cap));
    heap_.reserve(std::size_t(cap));
    embedding_raw_.resize(std::size_t(kChunk * threads * dim_));
  }
  if (strategy == Strategy::Random) return;  // keys from the index only: no forward pass, no buffers
  // A chunk is kChunk images per thread; forward_raw_threads runs it with one Workspace each.
  workspaces_.reserve(std::size_t(threads));
  for (std::int32_t t = 0; t < threads; ++t) workspaces_.emplace_back(model);
  logits_raw_.resize(std::size_t(kChunk * threads * model.num_classes));
  score_raw_.resize(std::size_t(kChunk * threads));
}

void Ranker::push(const ImageView& images) {
  const TensorShape& s = model_.input_shape;
  if (images.h != s.h || images.w != s.w || images.c != s.c) {
    throw std::invalid_argument("batch images have shape (" + std::to_string(images.h) + ", " +
                                std::to_string(images.w) + ", " + std::to_string(images.c) +
                                ") but the model expects (" + std::to_string(s.h) + ", " +
                                std::to_string(s.w) + ", " + std::to_string(s.c) + ")");
  }
  if (strategy_ == Strategy::Random) {  // the key depends on the index only: no forward pass
    const std::int64_t first = start_index_ + seen_;
    for (std::int64_t i = 0; i < images.n; ++i) top_.push(random_key(seed_, first + i), first + i);
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
    if (pool_level && std::int64_t(heap_.size()) == cap_) {
      // No forward pass for a chunk none of whose images can enter the candidates (the worst
      // kept candidate only improves while the chunk is pushed).
      const std::int32_t top = heap_.front();
      bool any = false;
      for (std::int64_t i = 0; i < chunk.n && !any; ++i) {
        const std::int64_t index = start_index_ + seen_ + start + i;
        const std::uint64_t r = random_key(seed_, index);
        any = r < cand_rkey_[std::size_t(top)] ||
              (r == cand_rkey_[std::size_t(top)] && index < cand_index_[std::size_t(top)]);
      }
      if (!any) continue;
    }
    std::int32_t* score_out = model_.has_sampler() && !pool_level ? score_raw_.data() : nullptr;
    std::int8_t* embedding_out = dim_ > 0 ? embedding_raw_.data() : nullptr;
    forward_raw_threads(model_, chunk, threads_, logits_raw_.data(), score_out, &workspaces_, embedding_out);
    for (std::int64_t i = 0; i < chunk.n; ++i) {
      const std::int32_t* logits = logits_raw_.data() + i * classes;
      if (pool_level) {
        const std::int64_t index = start_index_ + seen_ + start + i;
        push_candidate(random_key(seed_, index), index, margin(logits, classes),
                       predicted_class(logits, classes), dim_ > 0 ? embedding_raw_.data() + i * dim_ : nullptr);
        continue;
      }
      std::uint64_t key = 0;
      switch (strategy_) {
        case Strategy::Fdal: key = fdal_key(score_raw_[std::size_t(i)]); break;
        case Strategy::Margin: key = encode_int64(margin(logits, classes)); break;
        case Strategy::Entropy: key = encode_double(negative_entropy(logits, classes, unit)); break;
        default: break;  // random: handled above; pool-level: above
      }
      top_.push(key, start_index_ + seen_ + start + i);
    }
  }
  seen_ += images.n;
}

bool Ranker::slot_less(std::int32_t a, std::int32_t b) const {
  const std::uint64_t ra = cand_rkey_[std::size_t(a)], rb = cand_rkey_[std::size_t(b)];
  return ra < rb || (ra == rb && cand_index_[std::size_t(a)] < cand_index_[std::size_t(b)]);
}

void Ranker::sift_up(std::size_t pos) {
  while (pos > 0) {
    const std::size_t parent = (pos - 1) / 2;
    if (!slot_less(heap_[parent], heap_[pos])) break;
    std::swap(heap_[parent], heap_[pos]);
    pos = parent;
  }
}

void Ranker::sift_down(std::size_t pos) {
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

void Ranker::push_candidate(std::uint64_t rkey, std::int64_t index, std::int64_t margin_key,
                            std::int32_t cls, const std::int8_t* row) {
  std::int32_t slot;
  const bool grow = std::int64_t(heap_.size()) < cap_;
  if (grow) {
    slot = std::int32_t(heap_.size());
    heap_.push_back(slot);
  } else {
    slot = heap_.front();
    const std::uint64_t r = cand_rkey_[std::size_t(slot)];
    if (!(rkey < r || (rkey == r && index < cand_index_[std::size_t(slot)]))) return;
  }
  cand_rkey_[std::size_t(slot)] = rkey;
  cand_index_[std::size_t(slot)] = index;
  cand_margin_[std::size_t(slot)] = margin_key;
  cand_class_[std::size_t(slot)] = cls;
  if (dim_ > 0) std::memcpy(cand_embedding_.data() + slot * dim_, row, std::size_t(dim_));
  if (grow) {
    sift_up(heap_.size() - 1);
  } else {
    sift_down(0);
  }
}

std::vector<TopK::Entry> Ranker::finish_entries(const std::atomic<bool>* cancel) const {
  if (strategy_is_pool_level(strategy_)) {
    const std::int64_t n = std::int64_t(heap_.size());
    if (n == 0) throw std::invalid_argument("the pool is empty");
    if (k_ > n) {
      throw std::invalid_argument("k=" + std::to_string(k_) + " is larger than the number of candidates " +
                                  std::to_string(n) + " (pool size " + std::to_string(seen_) + ", cap " +
                                  std::to_string(cap_) + ")");
    }
    // Slots into pool-index order, in place (one cycle per permutation cycle, one row of temp).
    std::vector<std::int32_t> order(static_cast<std::size_t>(n));
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [this](std::int32_t a, std::int32_t b) {
      return cand_index_[std::size_t(a)] < cand_index_[std::size_t(b)];
    });
    std::vector<std::int32_t> new_slot(static_cast<std::size_t>(n));
    for (std::int64_t j = 0; j < n; ++j) new_slot[std::size_t(order[std::size_t(j)])] = std::int32_t(j);
    std::vector<std::int8_t> row(static_cast<std::size_t>(dim_));
    std::vector<bool> done(static_cast<std::size_t>(n), false);
    for (std::int64_t j = 0; j < n; ++j) {
      if (done[std::size_t(j)] || order[std::size_t(j)] == j) continue;
      // Position j takes order[j]'s contents, which takes order[order[j]]'s, ...
      const std::uint64_t rk = cand_rkey_[std::size_t(j)];
      const std::int64_t ix = cand_index_[std::size_t(j)], mk = cand_margin_[std::size_t(j)];
      const std::int32_t cl = cand_class_[std::size_t(j)];
      if (dim_ > 0) std::memcpy(row.data(), cand_embedding_.data() + j * dim_, std::size_t(dim_));
      std::int64_t dst = j;
      for (;;) {
        done[std::size_t(dst)] = true;
        const std::int64_t src = order[std::size_t(dst)];
        if (src == j) break;
        cand_rkey_[std::size_t(dst)] = cand_rkey_[std::size_t(src)];
        cand_index_[std::size_t(dst)] = cand_index_[std::size_t(src)];
        cand_margin_[std::size_t(dst)] = cand_margin_[std::size_t(src)];
        cand_class_[std::size_t(dst)] = cand_class_[std::size_t(src)];
        if (dim_ > 0) {
          std::memcpy(cand_embedding_.data() + dst * dim_, cand_embedding_.data() + src * dim_, std::size_t(dim_));
        }
        dst = src;
      }
      cand_rkey_[std::size_t(dst)] = rk;
      cand_index_[std::size_t(dst)] = ix;
      cand_margin_[std::size_t(dst)] = mk;
      cand_class_[std::size_t(dst)] = cl;
      if (dim_ > 0) std::memcpy(cand_embedding_.data() + dst * dim_, row.data(), std::size_t(dim_));
    }
    for (std::int32_t& slot : heap_) slot = new_slot[std::size_t(slot)];  // same heap, relabelled

    PoolParams params;
    params.unit = double(model_.layers[std::size_t(model_.logits_layer)].out_scale);
    params.cancel = cancel;
    PoolCandidates c;
    const PoolRule rule = pool_rule(strategy_);
    c.n = n;
    c.pool_index = cand_index_.data();
    std::vector<std::int64_t> classes;  // the rule takes int64; kept as int32 (4 bytes each)
    if (pool_rule_takes_scores(rule)) {
      c.scores = cand_margin_.data();
      if (rule == PoolRule::ClassBalanced) {
        classes.assign(cand_class_.begin(), cand_class_.begin() + n);
        c.classes = classes.data();
        c.labeled_counts = labeled_counts_.data();
        c.num_labeled_counts = std::int64_t(labeled_counts_.size());
      }
    } else {
      c.embeddings = cand_embedding_.data();
      c.d = dim_;
      c.row_stride = dim_;
    }
    std::vector<std::int64_t> picks(static_cast<std::size_t>(k_));
    pool_select(rule, c, k_, seed_, params, picks.data());
    std::vector<TopK::Entry> entries;
    entries.reserve(picks.size());
    for (std::int64_t p : picks) {
      entries.emplace_back(encode_int64(cand_margin_[std::size_t(p)]), cand_index_[std::size_t(p)]);
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
    throw std::invalid_argument(std::string("strategy '") + kStrategyNames[int(strategy_)] +
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
