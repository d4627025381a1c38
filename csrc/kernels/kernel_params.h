// Parameters shared by all kernels: tensor shapes (NHWC, one image), window geometry and the
// quantization of one layer. Kernels read only these, never the file or the model.
#pragma once
#include <cstdint>

namespace fdal {

struct TensorShape {
  std::int32_t h = 0, w = 0, c = 0;
  std::int64_t elements() const { return std::int64_t(h) * w * c; }
};

struct OpParams {
  TensorShape in, out;
  std::int32_t kernel_h = 0, kernel_w = 0;  // UPSAMPLE_NEAREST: the replication factors
  std::int32_t stride_h = 0, stride_w = 0;
  std::int32_t pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
  std::int32_t in_zero_point = 0, out_zero_point = 0;
  std::int32_t act_min = -128, act_max = 127;
};

// Weights of a CONV2D / FULLY_CONNECTED layer; multiplier/shift are null for int32 heads.
struct QuantWeights {
  const std::int8_t* weights = nullptr;   // CONV2D: [out_c][kh][kw][in_c]; FC: [out_c][K]
  const std::int32_t* bias = nullptr;     // [out_c]
  const std::int32_t* multiplier = nullptr;  // [out_c], Q31 in [2^30, 2^31-1]
  const std::int32_t* shift = nullptr;       // [out_c], right shift in [1, 62]
  // Prepared at load for the model's optimized kernel path (kernels/packed_layout.h); null on
  // the reference path. Arrays are padded to whole blocks of output channels.
  const void* packed = nullptr;               // weights in the path's layout
  const std::int32_t* packed_bias = nullptr;  // bias with the layout's correction folded in
  // int8 layers: [3][oc_pad] multiplier, offset, shift with t = (acc * multiplier + offset) >>
  // shift, offset = 2^(shift-1) + out_zp * 2^shift when every shift <= 54 (out_zp folded in,
  // exact and without int64 overflow), else 2^(shift-1); requant_zp = what is left to add.
  const std::int64_t* requant64 = nullptr;
  std::int32_t requant_zp = 0;
  // When every shift >= 32 (Dot4/Pair16 layouts): per 16 channels, int32 multiplier[16],
  // int64 offset of the even channels[8], of the odd channels[8], int32 (shift - 32)[16], so
  // t = (high 32 bits of acc * multiplier + offset) >> (shift - 32) (floor twice = floor once).
  const std::uint8_t* requant_hi32 = nullptr;
  std::int32_t oc_pad = 0;                    // out_c rounded up to the block size
};

// Raw uint8 images with arbitrary byte strides (numpy strides, may be negative or zero).
struct ImageView {
  const std::uint8_t* data = nullptr;  // address of element [0, 0, 0, 0]
  std::int64_t n = 0, h = 0, w = 0, c = 0;
  std::int64_t stride_n = 0, stride_h = 0, stride_w = 0, stride_c = 0;  // in bytes
  const std::uint8_t* image(std::int64_t i) const { return data + i * stride_n; }
};

}  // namespace fdal
