// Where a packed convolution kernel reads its operands: the padded input (relayout.h) as rows of
// wp pixels x cpad channels, and the packed weights (packed_layout.h) as blocks of `lanes` output
// channels x taps x cpad. The shape is filled by portable code in conv_geometry.cpp (no ISA
// flags): an inline function here would be compiled once per kernel file, each with its own ISA
// flags, and the linker could hand the AVX-512 copy to the AVX2 path.
#pragma once
#include <cstdint>

#include "kernels/kernel_params.h"

namespace fdal {

// The loader caps kernel_h and kernel_w at 15 (docs/format.md).
constexpr int kMaxConvTaps = 15 * 15;

struct ConvShape {
  std::int64_t block_stride;  // weight elements per block of `lanes` output channels
  std::int32_t cpad, taps, ow;
  std::int32_t row_step, col_step;        // elements between output rows / columns' windows
  std::int32_t tap_offset[kMaxConvTaps];  // elements from a window's origin to tap t
};

void fill_conv_shape(const OpParams& p, std::int32_t cpad, std::int32_t lanes, ConvShape* shape);

template <typename Act, typename Weight>
struct ConvGeometry : ConvShape {
  const Act* act;         // padded input, cpad elements per pixel
  const Weight* weights;  // packed weights
};

namespace {  // internal linkage: each kernel file compiles its own copy with its own ISA flags

// The shape, the padded input `act` in the scratch and the layer's packed weights.
template <typename Act, typename Weight>
void fill_conv_geometry(const OpParams& p, const QuantWeights& q, std::int32_t cpad,
                        std::int32_t lanes, const Act* act, ConvGeometry<Act, Weight>* g) {
  fill_conv_shape(p, cpad, lanes, g);
  g->act = act;
  g->weights = static_cast<const Weight*>(q.packed);
}

}  // namespace

}  // namespace fdal
