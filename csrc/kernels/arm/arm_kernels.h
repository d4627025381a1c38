// ARM kernel tables (Linux: armv7 with NEON, aarch64). neon_kernels.cpp builds for both;
// neon_dotprod_kernels.cpp (aarch64 only) is compiled with -march=armv8.2-a+dotprod alone and
// called only when HWCAP_ASIMDDP says the CPU has SDOT.
#pragma once
#include "kernels/kernel_table.h"

namespace fdal {

const KernelTable& neon_kernel_table();  // vmlal_n_s16 on int16 activations, Lane16 layout
#if defined(__aarch64__)
const KernelTable& neon_dotprod_kernel_table();  // SDOT s8 x s8, Dot4 layout, bias folded
namespace arm {
// The pool selection rules' int8 row dot products with SDOT (kernels/pool_dot.h; pool_dot_dotprod.cpp).
void pool_dot_s8_dotprod(const std::int8_t* rows, std::int64_t stride, const std::int32_t* ia,
                         std::int32_t na, const std::int32_t* ib, std::int32_t nb, std::int32_t* out);
}  // namespace arm
#endif

}  // namespace fdal
