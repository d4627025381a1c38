// The "portable" path: plain C++17 (no intrinsics, no ISA flags) shaped so that compilers
// vectorize it at the default target; the path `auto` picks when no SIMD path applies. Each
// kernel is bit-exact to the one of the same name in kernels/reference (the simple loops); the
// other ops use the reference kernels as they are.
#pragma once
#include <cstdint>

#include "kernels/kernel_params.h"
#include "kernels/kernel_table.h"

namespace fdal {
namespace portable {

// Blocked int16 bands of the receptive field (kernel_h*kernel_w*in_c <= 2048 and a few input
// rows) in `scratch`, conv2d_s8_scratch_bytes(p) bytes, 16-byte aligned (0: the layer is too
// large for the bands and runs reference::conv2d_s8, which needs none).
std::int64_t conv2d_s8_scratch_bytes(const OpParams& p);
void conv2d_s8(const OpParams& p, const QuantWeights& q, const std::int8_t* in, std::int8_t* out,
               std::uint8_t* scratch);
// x - in_zero_point converted once per 4096-value chunk, int8 x int16 dot products.
void fully_connected_s8(const OpParams& p, const QuantWeights& q, const std::int8_t* in,
                        std::int8_t* out);
void fully_connected_s8_s32(const OpParams& p, const QuantWeights& q, const std::int8_t* in,
                            std::int32_t* out);

}  // namespace portable

const KernelTable& portable_kernel_table();

}  // namespace fdal
