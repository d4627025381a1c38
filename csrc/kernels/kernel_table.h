// The kernel table: one function pointer per op, chosen once when a model is loaded.
// Every entry of every table is bit-exact to the reference kernels (docs/quantization.md).
// Optimized paths (kernels/x86, kernels/arm) fill their own table and fall back to reference.
#pragma once
#include <cstdint>

#include "kernels/kernel_params.h"

namespace fdal {

struct KernelTable {
  const char* name;  // "reference", later e.g. "avx2", "avx512vnni", "neon", "neon-dotprod"
  void (*input_lookup_u8)(const std::uint8_t* pixels, std::int64_t stride_h,
                          std::int64_t stride_w, std::int64_t stride_c, const TensorShape& shape,
                          const std::int8_t* lut, std::int8_t* out);
  void (*conv2d_s8)(const OpParams&, const QuantWeights&, const std::int8_t*, std::int8_t*);
  void (*fully_connected_s8)(const OpParams&, const QuantWeights&, const std::int8_t*,
                             std::int8_t*);
  void (*fully_connected_s8_s32)(const OpParams&, const QuantWeights&, const std::int8_t*,
                                 std::int32_t*);
  void (*max_pool_s8)(const OpParams&, const std::int8_t*, std::int8_t*);
  void (*avg_pool_s8)(const OpParams&, const std::int8_t*, std::int8_t*);
  void (*relu_s8)(const OpParams&, const std::int8_t*, std::int8_t*);
  void (*upsample_nearest_s8)(const OpParams&, const std::int8_t*, std::int8_t*);
  void (*copy_s8)(const OpParams&, const std::int8_t*, std::int8_t*);
};

// The portable table (always available).
const KernelTable& reference_kernel_table();

// The best table for this CPU, unless the environment variable FDAL_KERNELS names one
// ("reference" forces the portable kernels). Unknown names throw std::invalid_argument.
const KernelTable& select_kernel_table();

}  // namespace fdal
