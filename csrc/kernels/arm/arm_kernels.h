// ARM kernel tables (Linux: armv7 with NEON, aarch64). neon_kernels.cpp builds for both;
// neon_dotprod_kernels.cpp (aarch64 only) is compiled with -march=armv8.2-a+dotprod alone and
// called only when HWCAP_ASIMDDP says the CPU has SDOT.
#pragma once
#include "kernels/kernel_table.h"

namespace fdal {

const KernelTable& neon_kernel_table();  // vmlal_n_s16 on int16 activations, Lane16 layout
#if defined(__aarch64__)
const KernelTable& neon_dotprod_kernel_table();  // SDOT s8 x s8, Dot4 layout, bias folded
#endif

}  // namespace fdal
