// The reference kernels: deliberately simple direct loops, bit-exact to the numpy oracle
// (python/fdal/oracle.py, the ground truth), and the base every faster path (portable, avx2, ...)
// falls back to and is tested against. One function per file, named like the file.
#pragma once
#include <cstdint>

#include "kernels/kernel_params.h"

namespace fdal {
namespace reference {

void input_lookup_u8(const std::uint8_t* pixels, std::int64_t stride_h, std::int64_t stride_w,
                     std::int64_t stride_c, const TensorShape& shape, const std::int8_t* lut,
                     std::int8_t* out);
void conv2d_s8(const OpParams& p, const QuantWeights& q, const std::int8_t* in, std::int8_t* out);
void fully_connected_s8(const OpParams& p, const QuantWeights& q, const std::int8_t* in,
                        std::int8_t* out);
void fully_connected_s8_s32(const OpParams& p, const QuantWeights& q, const std::int8_t* in,
                            std::int32_t* out);
void max_pool_s8(const OpParams& p, const std::int8_t* in, std::int8_t* out);
void avg_pool_s8(const OpParams& p, const std::int8_t* in, std::int8_t* out);
void relu_s8(const OpParams& p, const std::int8_t* in, std::int8_t* out);
void upsample_nearest_s8(const OpParams& p, const std::int8_t* in, std::int8_t* out);
void copy_s8(const OpParams& p, const std::int8_t* in, std::int8_t* out);
void pool_dot_s8(const std::int8_t* rows, std::int64_t stride, const std::int32_t* ia, std::int32_t na,
                 const std::int32_t* ib, std::int32_t nb, std::int32_t* out);
void pool_dot_s16(const std::int16_t* a16, std::int32_t na, const std::int16_t* b16, std::int32_t nb,
                  std::int64_t stride, std::int32_t* out);

}  // namespace reference
}  // namespace fdal
