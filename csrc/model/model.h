// fdal::Model: an immutable, validated int8 network. Built only by fdal::load_model
// (format/loader.h); shared read-only by threads. Layer weight pointers point into the model's own
// 64-byte aligned copy of the file.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/kernel_params.h"
#include "kernels/kernel_table.h"
#include "model/aligned_buffer.h"
#include "model/planner.h"

namespace fdal {

enum class Op : std::uint8_t {
  Conv2D = 1,
  MaxPool = 2,
  AvgPool = 3,
  Relu = 4,
  Flatten = 5,
  FullyConnected = 6,
  UpsampleNearest = 7,
};

const char* op_name(Op op);  // "conv2d", "maxpool", "avgpool", "relu", "flatten", "fc", "upsample" (as fdal.format)

enum class OutKind : std::uint8_t { Int8 = 0, Int32 = 1 };

struct Layer {
  Op op = Op::Conv2D;
  OutKind out_kind = OutKind::Int8;
  std::int32_t input_layer = -1;  // -1: the model input
  OpParams params;
  float in_scale = 0.f, out_scale = 0.f;
  QuantWeights weights;                         // CONV2D / FULLY_CONNECTED only
  const float* weight_scale = nullptr;          // [out_c], informational
  std::uint32_t weight_bytes = 0;               // int8 weight bytes of this layer
  std::uint32_t weight_offset = 0, bias_offset = 0, multiplier_offset = 0, shift_offset = 0,
                weight_scale_offset = 0;        // file offsets, for info

  std::int64_t output_bytes() const {
    return params.out.elements() * (out_kind == OutKind::Int32 ? 4 : 1);
  }
};

class Model {
 public:
  // Fields are filled by the loader; after load the model is never modified.
  AlignedBuffer file;  // the validated file, 64-byte aligned (empty when loaded in place)
  std::int64_t file_size = 0;  // bytes of the file, copied or in place
  std::uint16_t version_major = 0, version_minor = 0;
  TensorShape input_shape;
  std::int32_t num_classes = 0;
  std::int32_t logits_layer = -1;
  std::int32_t score_layer = -1;  // -1: no sampler
  std::int32_t embedding_layer = -1;  // the int8 layer whose output is the embedding; -1: none
  float input_scale = 0.f;
  std::int32_t input_zero_point = 0;
  std::vector<float> mean, std;
  const std::int8_t* lut = nullptr;  // input_c * 256
  std::vector<Layer> layers;
  ArenaPlan plan;
  std::int64_t weight_bytes = 0;     // int8 weights + biases + multipliers + shifts of all layers
  const KernelTable* kernels = nullptr;
  AlignedBuffer packed;            // the kernel path's packed weights (model/pack_weights.h)
  std::int64_t packed_bytes = 0;   // bytes of `packed` (0 on the reference path)
  std::int64_t scratch_bytes = 0;  // per-workspace scratch the packed kernels (and portable conv2d) need
  std::int32_t tile_images = 1;    // images run layer by layer together (tile kernels: > 1)

  bool has_sampler() const { return score_layer >= 0; }
  bool has_embedding() const { return embedding_layer >= 0; }
  // int8 values per image of the embedding (its layer's h*w*c in NHWC order); 0 without one.
  std::int64_t embedding_dim() const {
    return has_embedding() ? layers[std::size_t(embedding_layer)].params.out.elements() : 0;
  }
  std::int64_t file_bytes() const { return file_size; }
  std::int64_t arena_bytes() const { return plan.arena_bytes; }
};

}  // namespace fdal
