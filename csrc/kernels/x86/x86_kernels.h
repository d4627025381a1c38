// x86-64 kernel tables. Each lives in files compiled with that ISA's flags only
// (csrc/CMakeLists.txt); kernel_paths.cpp calls them only after cpu_features() says the CPU can.
#pragma once
#include "kernels/kernel_table.h"

namespace fdal {

const KernelTable& avx2_kernel_table();        // AVX2: vpmaddwd on int16, Pair16 layout
const KernelTable& avx512vnni_kernel_table();  // AVX-512 VNNI: vpdpbusd u8 x s8, Dot4 layout

namespace x86 {
// AVX2 kernels shared by both x86 tables (pooling, input lookup).
void max_pool_s8_avx2(const OpParams& p, const std::int8_t* in, std::int8_t* out);
// The pool selection dot products (kernels/pool_dot.h; pool_dot_avx2.cpp, -mavx2).
void pool_dot_s8_avx2(const std::int8_t* rows, std::int64_t stride, const std::int32_t* ia,
                      std::int32_t na, const std::int32_t* ib, std::int32_t nb, std::int32_t* out);
void pool_dot_s16_avx2(const std::int16_t* a16, std::int32_t na, const std::int16_t* b16,
                       std::int32_t nb, std::int64_t stride, std::int32_t* out);
}  // namespace x86

}  // namespace fdal
