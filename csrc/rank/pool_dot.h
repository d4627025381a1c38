// Dot products of int8 embedding rows, for the pool selection rules (rank/pool_select.*). Every
// row holds `stride` int8 (d rounded up to a multiple of 16, the tail zero, so padding adds nothing). Exact in int32: |dot| <= 128 * 128 * d <= 2^30 for d <= 65536.
//   out[a * nb + b] = sum_t rows[ia[a] * stride + t] * rows[ib[b] * stride + t]
// "scalar" is the reference (a plain loop); "avx2" (kernels/x86/pool_dot_avx2.cpp, -mavx2 on that
// file only) gives the same int32s: integer sums do not depend on their order.
#pragma once
#include <cstdint>

namespace fdal {

using PoolDotFn = void (*)(const std::int8_t* rows, std::int64_t stride, const std::int32_t* ia,
                           std::int32_t na, const std::int32_t* ib, std::int32_t nb, std::int32_t* out);

void pool_dot_scalar(const std::int8_t* rows, std::int64_t stride, const std::int32_t* ia,
                     std::int32_t na, const std::int32_t* ib, std::int32_t nb, std::int32_t* out);

namespace x86 {
// Defined only in x86-64 builds (FDAL_POOL_AVX2); call only when cpu_features().avx2.
void pool_dot_avx2(const std::int8_t* rows, std::int64_t stride, const std::int32_t* ia,
                   std::int32_t na, const std::int32_t* ib, std::int32_t nb, std::int32_t* out);
}  // namespace x86

// Contiguous int16 blocks (rows of the pairwise passes, widened once per block):
//   out[a * nb + b] = sum_t a16[a * stride + t] * b16[b * stride + t]
using PoolDot16Fn = void (*)(const std::int16_t* a16, std::int32_t na, const std::int16_t* b16,
                             std::int32_t nb, std::int64_t stride, std::int32_t* out);
void pool_dot16_scalar(const std::int16_t* a16, std::int32_t na, const std::int16_t* b16,
                       std::int32_t nb, std::int64_t stride, std::int32_t* out);
namespace x86 {
void pool_dot16_avx2(const std::int16_t* a16, std::int32_t na, const std::int16_t* b16,
                     std::int32_t nb, std::int64_t stride, std::int32_t* out);
}  // namespace x86

struct PoolKernels {
  PoolDotFn dot;
  PoolDot16Fn dot16;
};

// The kernel for "auto" (avx2 when this build and CPU have it, else scalar), "scalar" or "avx2";
// std::invalid_argument for another name or for "avx2" where it cannot run.
PoolKernels pool_dot_kernel(const char* name);

}  // namespace fdal
