// The executor: runs images through the model's layer list in a workspace arena, Model::tile_images
// images at a time, with the kernel table chosen at load. Outputs the heads' raw int32
// accumulators; logits_from_raw and scores_from_raw (below) turn them into floats.
#pragma once
#include <cstdint>
#include <vector>

#include "kernels/kernel_params.h"
#include "model/model.h"
#include "runtime/workspace.h"

namespace fdal {

// images: n images of the model's input shape (checked: std::invalid_argument otherwise).
// logits_raw: n * num_classes int32; score_raw: n int32, or null (also when there is no sampler);
// embedding_q: n * embedding_dim() int8 (the embedding layer's output, NHWC order), or null
// (also when the model has none).
void forward_raw(const Model& model, const ImageView& images, Workspace& workspace,
                 std::int32_t* logits_raw, std::int32_t* score_raw, std::int8_t* embedding_q = nullptr);

// forward_raw over `threads` threads (contiguous slices of images, a Workspace each: taken from
// *workspaces when it holds one per thread, else allocated for this call); the results are
// identical for any thread count. threads < 1: std::invalid_argument. Built with FDAL_NO_THREADS
// (bare metal), the slices run one after another.
void forward_raw_threads(const Model& model, const ImageView& images, std::int32_t threads,
                         std::int32_t* logits_raw, std::int32_t* score_raw,
                         std::vector<Workspace>* workspaces = nullptr, std::int8_t* embedding_q = nullptr);

// For benchmarks: runs the images like forward_raw and writes each step's median (over tiles)
// wall time per image to seconds[0] (input lookup) and seconds[1 + j] (layer j); layers + 1.
void profile_layers(const Model& model, const ImageView& images, Workspace& workspace,
                    double* seconds);

// logits[i] = float32(raw[i]) * unit, one conversion and one float32 multiply.
void logits_from_raw(const Model& model, const std::int32_t* raw, std::int64_t n, float* logits);
// score[i] = det_sigmoid_score(raw[i], unit) (docs/quantization.md).
void scores_from_raw(const Model& model, const std::int32_t* raw, std::int64_t n, float* score);
// embedding[i] = float32(q[i] - zero_point) * scale (one exact conversion, one float32 multiply),
// for n images of embedding_dim() values; std::invalid_argument without an embedding.
void embedding_from_q(const Model& model, const std::int8_t* q, std::int64_t n, float* embedding);

}  // namespace fdal
