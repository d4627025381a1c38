// input_lookup_u8 for the optimized paths: same result as the reference, with a fast loop for
// the common layout (channels contiguous, pixels packed: stride_c == 1, stride_w == c) and
// the reference for any other strides.
#pragma once
#include <cstdint>

#include "kernels/kernel_params.h"

namespace fdal {

void input_lookup_u8_contiguous(const std::uint8_t* pixels, std::int64_t stride_h,
                                std::int64_t stride_w, std::int64_t stride_c,
                                const TensorShape& shape, const std::int8_t* lut, std::int8_t* out);

}  // namespace fdal
