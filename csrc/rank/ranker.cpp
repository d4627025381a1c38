#include "rank/ranker.h"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "runtime/executor.h"

namespace fdal {

Ranker::Ranker(const Model& model, Strategy strategy, std::int64_t k, std::uint64_t seed,
               std::int32_t threads)
    : model_(model), strategy_(strategy), k_(k), seed_(seed), threads_(threads), top_(k) {
  if (threads < 1) throw std::invalid_argument("threads must be at least 1, got " + std::to_string(threads));
  if (strategy == Strategy::Fdal && !model.has_sampler()) {
    throw std::invalid_argument(
        "strategy 'fdal' needs a model with a sampler (score layer); this model has none");
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
    for (std::int64_t i = 0; i < images.n; ++i) top_.push(random_key(seed_, seen_ + i), seen_ + i);
    seen_ += images.n;
    return;
  }
  const float unit = model_.layers[std::size_t(model_.logits_layer)].out_scale;
  const std::int32_t classes = model_.num_classes;
  const std::int64_t chunk_images = kChunk * threads_;
  for (std::int64_t start = 0; start < images.n; start += chunk_images) {
    ImageView chunk = images;
    chunk.data = images.image(start);
    chunk.n = std::min(chunk_images, images.n - start);
    std::int32_t* score_out = model_.has_sampler() ? score_raw_.data() : nullptr;
    forward_raw_threads(model_, chunk, threads_, logits_raw_.data(), score_out, &workspaces_);
    for (std::int64_t i = 0; i < chunk.n; ++i) {
      const std::int32_t* logits = logits_raw_.data() + i * classes;
      std::uint64_t key = 0;
      switch (strategy_) {
        case Strategy::Fdal: key = fdal_key(score_raw_[std::size_t(i)]); break;
        case Strategy::Margin: key = encode_int64(margin(logits, classes)); break;
        case Strategy::Entropy: key = encode_double(negative_entropy(logits, classes, unit)); break;
        case Strategy::Random: break;  // handled above
      }
      top_.push(key, seen_ + start + i);
    }
  }
  seen_ += images.n;
}

std::vector<TopK::Entry> Ranker::finish_entries() const {
  if (k_ > seen_) {
    throw std::invalid_argument("k=" + std::to_string(k_) + " is larger than the pool size " +
                                std::to_string(seen_));
  }
  return top_.sorted();
}

std::vector<std::int64_t> Ranker::finish() const {
  const std::vector<TopK::Entry> entries = finish_entries();
  std::vector<std::int64_t> indices;
  indices.reserve(entries.size());
  for (const TopK::Entry& e : entries) indices.push_back(e.second);
  return indices;
}

}  // namespace fdal
