#include "runtime/executor.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <exception>
#if !defined(FDAL_NO_THREADS)
#include <thread>
#endif
#include <vector>
#include <stdexcept>
#include <string>

#include "runtime/det_math.h"

namespace fdal {

namespace {

// One layer for one image. Conv / fully connected kernels read the weights in the table's
// PackSpec layout (prepared at load) and re-lay out their activations in `scratch`.
void run_layer(const KernelTable& k, const Layer& L, const std::int8_t* in, std::int8_t* out,
               std::uint8_t* scratch) {
  const OpParams& p = L.params;
  switch (L.op) {
    case Op::Conv2D: k.conv2d_s8(p, L.weights, in, out, scratch); break;
    case Op::MaxPool: k.max_pool_s8(p, in, out); break;
    case Op::AvgPool: k.avg_pool_s8(p, in, out); break;
    case Op::Relu: k.relu_s8(p, in, out); break;
    case Op::Flatten: k.copy_s8(p, in, out); break;
    case Op::UpsampleNearest: k.upsample_nearest_s8(p, in, out); break;
    case Op::FullyConnected:
      if (L.out_kind == OutKind::Int32) {
        // The arena offset is 64-byte aligned, so the int32 view is aligned.
        k.fully_connected_s8_s32(p, L.weights, in, reinterpret_cast<std::int32_t*>(out), scratch);
      } else {
        k.fully_connected_s8(p, L.weights, in, out, scratch);
      }
      break;
  }
}

// One layer for the nt images of a tile (image i's arena at arena + i * stride). Fully
// connected layers of a path with tile kernels run once for the whole tile (weights streamed once).
void run_layer_tile(const KernelTable& k, const Layer& L, std::int8_t* arena, std::int64_t stride,
                    std::int64_t in_at, std::int64_t out_at, std::int32_t nt, std::uint8_t* scratch) {
  if (L.op == Op::FullyConnected && nt > 1) {
    const auto tile = L.out_kind == OutKind::Int32 ? k.fully_connected_s8_s32_tile : k.fully_connected_s8_tile;
    if (tile != nullptr) return tile(L.params, L.weights, arena + in_at, arena + out_at, stride, nt, scratch);
  }
  for (std::int32_t i = 0; i < nt; ++i) {
    run_layer(k, L, arena + i * stride + in_at, arena + i * stride + out_at, scratch);
  }
}

void check_workspace(const Model& model, const ImageView& images, const Workspace& workspace) {
  const TensorShape& s = model.input_shape;
  if (images.h != s.h || images.w != s.w || images.c != s.c) {
    throw std::invalid_argument("images have shape (" + std::to_string(images.h) + ", " +
                                std::to_string(images.w) + ", " + std::to_string(images.c) +
                                ") per image but the model expects (" + std::to_string(s.h) +
                                ", " + std::to_string(s.w) + ", " + std::to_string(s.c) + ")");
  }
  if (workspace.bytes() < std::size_t(model.arena_bytes() * model.tile_images) ||
      workspace.scratch_bytes() < std::size_t(model.scratch_bytes)) {
    throw std::invalid_argument("workspace is smaller than the model's arena");
  }
}

// Images [start, start + nt) through the whole network, layer by layer over the tile; adds each
// step's seconds per image to layer_seconds[0] (input) and [1 + j] when it is not null.
void run_tile(const Model& model, const ImageView& images, std::int64_t start, std::int32_t nt,
              Workspace& workspace, std::int32_t* logits_raw, std::int32_t* score_raw,
              std::int8_t* embedding_q, double* layer_seconds) {
  using Clock = std::chrono::steady_clock;
  const KernelTable& k = *model.kernels;
  std::int8_t* arena = workspace.arena();
  std::uint8_t* scratch = workspace.scratch();
  const std::int64_t stride = model.arena_bytes();
  Clock::time_point t0;
  if (layer_seconds != nullptr) t0 = Clock::now();
  for (std::int32_t i = 0; i < nt; ++i) {
    // (h, w, c) uint8, any strides -> int8 input tensor
    k.input_lookup_u8(images.image(start + i), images.stride_h, images.stride_w, images.stride_c,
                      model.input_shape, model.lut, arena + i * stride + model.plan.input_offset);
  }
  for (std::size_t j = 0; j < model.layers.size(); ++j) {
    if (layer_seconds != nullptr) {
      const Clock::time_point t1 = Clock::now();
      layer_seconds[j] += std::chrono::duration<double>(t1 - t0).count() / nt;
      t0 = t1;
    }
    const Layer& L = model.layers[j];
    const std::int64_t in_at = L.input_layer < 0 ? model.plan.input_offset
                                                 : model.plan.layer_offsets[std::size_t(L.input_layer)];
    run_layer_tile(k, L, arena, stride, in_at, model.plan.layer_offsets[j], nt, scratch);
  }
  if (layer_seconds != nullptr) {
    layer_seconds[model.layers.size()] += std::chrono::duration<double>(Clock::now() - t0).count() / nt;
  }
  const std::int32_t classes = model.num_classes;
  const std::int64_t logits_at = model.plan.layer_offsets[std::size_t(model.logits_layer)];
  for (std::int32_t i = 0; i < nt; ++i) {
    std::memcpy(logits_raw + (start + i) * classes, arena + i * stride + logits_at,
                sizeof(std::int32_t) * std::size_t(classes));
    if (score_raw != nullptr && model.has_sampler()) {
      std::memcpy(score_raw + start + i,
                  arena + i * stride + model.plan.layer_offsets[std::size_t(model.score_layer)],
                  sizeof(std::int32_t));
    }
    if (embedding_q != nullptr && model.has_embedding()) {
      const std::int64_t dim = model.embedding_dim();
      std::memcpy(embedding_q + (start + i) * dim,
                  arena + i * stride + model.plan.layer_offsets[std::size_t(model.embedding_layer)],
                  std::size_t(dim));
    }
  }
}

}  // namespace

void forward_raw(const Model& model, const ImageView& images, Workspace& workspace,
                 std::int32_t* logits_raw, std::int32_t* score_raw, std::int8_t* embedding_q) {
  check_workspace(model, images, workspace);
  for (std::int64_t start = 0; start < images.n; start += model.tile_images) {
    const std::int32_t nt = std::int32_t(std::min<std::int64_t>(model.tile_images, images.n - start));
    run_tile(model, images, start, nt, workspace, logits_raw, score_raw, embedding_q, nullptr);
  }
}

void profile_layers(const Model& model, const ImageView& images, Workspace& workspace,
                    double* seconds) {
  check_workspace(model, images, workspace);
  const std::size_t steps = model.layers.size() + 1;
  std::vector<std::int32_t> logits(std::size_t(model.tile_images * model.num_classes) + 1);
  std::vector<double> samples;  // per tile: seconds per image of each step
  std::vector<double> row(steps);
  for (std::int64_t start = 0; start < images.n; start += model.tile_images) {
    const std::int32_t nt = std::int32_t(std::min<std::int64_t>(model.tile_images, images.n - start));
    std::fill(row.begin(), row.end(), 0.0);
    // logits of the tile land at the start of `logits` (start 0 of a one-tile view)
    ImageView tile = images;
    tile.data = images.image(start);
    tile.n = nt;
    run_tile(model, tile, 0, nt, workspace, logits.data(), nullptr, nullptr, row.data());
    samples.insert(samples.end(), row.begin(), row.end());
  }
  // The median over tiles: robust to the preemptions of a shared machine.
  const std::size_t tiles = samples.size() / steps;
  std::vector<double> column(tiles);
  for (std::size_t j = 0; j < steps; ++j) {
    for (std::size_t t = 0; t < tiles; ++t) column[t] = samples[t * steps + j];
    std::nth_element(column.begin(), column.begin() + std::ptrdiff_t(tiles / 2), column.end());
    seconds[j] = tiles > 0 ? column[tiles / 2] : 0.0;
  }
}

void forward_raw_threads(const Model& model, const ImageView& images, std::int32_t threads,
                         std::int32_t* logits_raw, std::int32_t* score_raw,
                         std::vector<Workspace>* workspaces, std::int8_t* embedding_q) {
  if (threads < 1) throw std::invalid_argument("threads must be at least 1, got " + std::to_string(threads));
  const std::int64_t n = images.n;
  const std::int64_t used = std::max<std::int64_t>(1, std::min<std::int64_t>(threads, n));
  const std::int32_t classes = model.num_classes;
  auto run_slice = [&](std::int64_t t) {
    // Contiguous slices; each image's result depends on the image only, so any split agrees.
    const std::int64_t begin = n * t / used, end = n * (t + 1) / used;
    ImageView slice = images;
    slice.data = images.image(begin);
    slice.n = end - begin;
    std::int32_t* logits_out = logits_raw + begin * classes;
    std::int32_t* score_out = score_raw != nullptr ? score_raw + begin : nullptr;
    std::int8_t* embedding_out = embedding_q != nullptr ? embedding_q + begin * model.embedding_dim() : nullptr;
    if (workspaces != nullptr && std::int64_t(workspaces->size()) > t) {
      forward_raw(model, slice, (*workspaces)[std::size_t(t)], logits_out, score_out, embedding_out);
    } else {
      Workspace workspace(model);
      forward_raw(model, slice, workspace, logits_out, score_out, embedding_out);
    }
  };
  if (used == 1) return run_slice(0);
#if defined(FDAL_NO_THREADS)
  // A build without threads (bare metal): the slices run in turn, with the same results.
  for (std::int64_t t = 0; t < used; ++t) run_slice(t);
#else
  std::vector<std::thread> pool;
  std::vector<std::exception_ptr> errors(static_cast<std::size_t>(used));
  for (std::int64_t t = 0; t < used; ++t) {
    pool.emplace_back([&, t] {
      try {
        run_slice(t);
      } catch (...) {
        errors[std::size_t(t)] = std::current_exception();
      }
    });
  }
  for (std::thread& th : pool) th.join();
  for (const std::exception_ptr& e : errors) {
    if (e) std::rethrow_exception(e);
  }
#endif
}

void logits_from_raw(const Model& model, const std::int32_t* raw, std::int64_t n, float* logits) {
  const float unit = model.layers[std::size_t(model.logits_layer)].out_scale;
  const std::int64_t count = n * model.num_classes;
  for (std::int64_t i = 0; i < count; ++i) logits[i] = static_cast<float>(raw[i]) * unit;
}

void scores_from_raw(const Model& model, const std::int32_t* raw, std::int64_t n, float* score) {
  if (!model.has_sampler()) throw std::invalid_argument("the model has no sampler (no score layer)");
  const float unit = model.layers[std::size_t(model.score_layer)].out_scale;
  for (std::int64_t i = 0; i < n; ++i) score[i] = det_sigmoid_score(raw[i], unit);
}

void embedding_from_q(const Model& model, const std::int8_t* q, std::int64_t n, float* embedding) {
  if (!model.has_embedding()) throw std::invalid_argument("the model has no embedding layer");
  const Layer& L = model.layers[std::size_t(model.embedding_layer)];
  const std::int32_t zero_point = L.params.out_zero_point;
  const std::int64_t count = n * model.embedding_dim();
  for (std::int64_t i = 0; i < count; ++i) {
    embedding[i] = static_cast<float>(std::int32_t(q[i]) - zero_point) * L.out_scale;
  }
}

}  // namespace fdal
