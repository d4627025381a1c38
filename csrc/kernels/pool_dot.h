// Dot products of int8 embedding rows for the pool selection rules (rank/pool_select.*): two slots
// of the kernel table (kernels/kernel_table.h), chosen with every other kernel by the one
// dispatcher (kernels/dispatch.cpp, FDAL_KERNELS). Every row holds `stride` values, a multiple of
// 16 (d rounded up, the tail zero, so padding adds nothing). Exact in int32: |dot| <= 128 * 128 * d
// <= 2^30 for d <= 65536, so every path gives the same int32s (integer sums do not depend on order).
//   pool_dot_s8:  out[a * nb + b] = sum_t rows[ia[a] * stride + t] * rows[ib[b] * stride + t]
//   pool_dot_s16: out[a * nb + b] = sum_t a16[a * stride + t] * b16[b * stride + t]
//                 (contiguous int16 blocks: the rows of the pairwise passes, widened once per block)
#pragma once
#include <cstdint>

namespace fdal {

using PoolDotS8Fn = void (*)(const std::int8_t* rows, std::int64_t stride, const std::int32_t* ia,
                             std::int32_t na, const std::int32_t* ib, std::int32_t nb, std::int32_t* out);
using PoolDotS16Fn = void (*)(const std::int16_t* a16, std::int32_t na, const std::int16_t* b16,
                              std::int32_t nb, std::int64_t stride, std::int32_t* out);

}  // namespace fdal
