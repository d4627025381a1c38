#include "runtime/executor.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <exception>
#include <thread>
#include <vector>
#include <stdexcept>
#include <string>

#include "runtime/det_math.h"

namespace fdal {

namespace {

void run_layer(const KernelTable& k, const Layer& L, const std::int8_t* in, std::int8_t* out,
               std::uint8_t* scratch) {
  const OpParams& p = L.params;
  if (L.weights.packed != nullptr) {  // the path's packed kernels (weights prepared at load)
    if (L.op == Op::Conv2D) return k.conv2d_s8_packed(p, L.weights, in, out, scratch);
    if (L.out_kind == OutKind::Int32) {
      return k.fully_connected_s8_s32_packed(p, L.weights, in, reinterpret_cast<std::int32_t*>(out),
                                             scratch);
    }
    return k.fully_connected_s8_packed(p, L.weights, in, out, scratch);
  }
  switch (L.op) {
    case Op::Conv2D: k.conv2d_s8(p, L.weights, in, out); break;
    case Op::MaxPool: k.max_pool_s8(p, in, out); break;
    case Op::AvgPool: k.avg_pool_s8(p, in, out); break;
    case Op::Relu: k.relu_s8(p, in, out); break;
    case Op::Flatten: k.copy_s8(p, in, out); break;
    case Op::UpsampleNearest: k.upsample_nearest_s8(p, in, out); break;
    case Op::FullyConnected:
      if (L.out_kind == OutKind::Int32) {
        // The arena offset is 64-byte aligned, so the int32 view is aligned.
        k.fully_connected_s8_s32(p, L.weights, in, reinterpret_cast<std::int32_t*>(out));
      } else {
        k.fully_connected_s8(p, L.weights, in, out);
      }
      break;
  }
}

}  // namespace

void forward_raw(const Model& model, const ImageView& images, Workspace& workspace,
                 std::int32_t* logits_raw, std::int32_t* score_raw) {
  const TensorShape& s = model.input_shape;
  if (images.h != s.h || images.w != s.w || images.c != s.c) {
    throw std::invalid_argument("images have shape (" + std::to_string(images.h) + ", " +
                                std::to_string(images.w) + ", " + std::to_string(images.c) +
                                ") per image but the model expects (" + std::to_string(s.h) +
                                ", " + std::to_string(s.w) + ", " + std::to_string(s.c) + ")");
  }
  if (workspace.bytes() < std::size_t(model.arena_bytes()) ||
      workspace.scratch_bytes() < std::size_t(model.scratch_bytes)) {
    throw std::invalid_argument("workspace is smaller than the model's arena");
  }
  std::uint8_t* scratch = workspace.scratch();
  const KernelTable& k = *model.kernels;
  std::int8_t* arena = workspace.arena();
  const std::int32_t classes = model.num_classes;
  const std::int64_t logits_at = model.plan.layer_offsets[std::size_t(model.logits_layer)];
  for (std::int64_t i = 0; i < images.n; ++i) {
    // (h, w, c) uint8, any strides -> int8 input tensor
    k.input_lookup_u8(images.image(i), images.stride_h, images.stride_w, images.stride_c, s,
                      model.lut, arena + model.plan.input_offset);
    for (std::size_t j = 0; j < model.layers.size(); ++j) {
      const Layer& L = model.layers[j];
      const std::int64_t in_at = L.input_layer < 0 ? model.plan.input_offset
                                                   : model.plan.layer_offsets[std::size_t(L.input_layer)];
      run_layer(k, L, arena + in_at, arena + model.plan.layer_offsets[j], scratch);
    }
    std::memcpy(logits_raw + i * classes, arena + logits_at, sizeof(std::int32_t) * std::size_t(classes));
    if (score_raw != nullptr && model.has_sampler()) {
      std::memcpy(score_raw + i, arena + model.plan.layer_offsets[std::size_t(model.score_layer)],
                  sizeof(std::int32_t));
    }
  }
}

void profile_layers(const Model& model, const ImageView& images, Workspace& workspace,
                    double* seconds) {
  using Clock = std::chrono::steady_clock;
  const KernelTable& k = *model.kernels;
  std::int8_t* arena = workspace.arena();
  const std::size_t steps = model.layers.size() + 1;
  std::vector<double> samples(steps * std::size_t(images.n));
  for (std::int64_t i = 0; i < images.n; ++i) {
    double* row = samples.data() + std::size_t(i) * steps;
    Clock::time_point t0 = Clock::now();
    k.input_lookup_u8(images.image(i), images.stride_h, images.stride_w, images.stride_c,
                      model.input_shape, model.lut, arena + model.plan.input_offset);
    Clock::time_point t1 = Clock::now();
    row[0] = std::chrono::duration<double>(t1 - t0).count();
    for (std::size_t j = 0; j + 1 < steps; ++j) {
      const Layer& L = model.layers[j];
      const std::int64_t in_at = L.input_layer < 0 ? model.plan.input_offset
                                                   : model.plan.layer_offsets[std::size_t(L.input_layer)];
      t0 = Clock::now();
      run_layer(k, L, arena + in_at, arena + model.plan.layer_offsets[j], workspace.scratch());
      t1 = Clock::now();
      row[j + 1] = std::chrono::duration<double>(t1 - t0).count();
    }
  }
  // The median over images: robust to the preemptions of a shared machine.
  std::vector<double> column(std::size_t(images.n));
  for (std::size_t j = 0; j < steps; ++j) {
    for (std::int64_t i = 0; i < images.n; ++i) column[std::size_t(i)] = samples[std::size_t(i) * steps + j];
    std::nth_element(column.begin(), column.begin() + images.n / 2, column.end());
    seconds[j] = images.n > 0 ? column[std::size_t(images.n / 2)] : 0.0;
  }
}

void forward_raw_threads(const Model& model, const ImageView& images, std::int32_t threads,
                         std::int32_t* logits_raw, std::int32_t* score_raw,
                         std::vector<Workspace>* workspaces) {
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
    if (workspaces != nullptr && std::int64_t(workspaces->size()) > t) {
      forward_raw(model, slice, (*workspaces)[std::size_t(t)], logits_out, score_out);
    } else {
      Workspace workspace(model);
      forward_raw(model, slice, workspace, logits_out, score_out);
    }
  };
  if (used == 1) return run_slice(0);
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

}  // namespace fdal
