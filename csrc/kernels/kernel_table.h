// The kernel table: one function pointer per op, chosen once when a model is loaded.
// Every entry of every table is bit-exact to the reference kernels (docs/quantization.md).
// Optimized paths (kernels/x86, kernels/arm) fill their own table and fall back to reference.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/kernel_params.h"
#include "kernels/packed_layout.h"

namespace fdal {

struct KernelTable {
  const char* name;  // "reference", "avx2", "avx512vnni", "neon", "neon-dotprod"
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

  // Optimized paths only (null in the reference table): kernels that read QuantWeights::packed
  // in the layout `pack` and use `scratch` (Model::scratch_bytes, from the Workspace) for the
  // re-laid-out activations. The executor calls them for layers whose weights were packed.
  PackSpec pack;
  void (*conv2d_s8_packed)(const OpParams&, const QuantWeights&, const std::int8_t*, std::int8_t*,
                           std::uint8_t* scratch);
  void (*fully_connected_s8_packed)(const OpParams&, const QuantWeights&, const std::int8_t*,
                                    std::int8_t*, std::uint8_t* scratch);
  void (*fully_connected_s8_s32_packed)(const OpParams&, const QuantWeights&, const std::int8_t*,
                                        std::int32_t*, std::uint8_t* scratch);
  // Optional (null: per image): a fully connected layer over n <= tile_images images whose
  // inputs and outputs are `stride` bytes apart (one arena per image); weights streamed once.
  std::int32_t tile_images;
  void (*fully_connected_s8_tile)(const OpParams&, const QuantWeights&, const std::int8_t* in,
                                  std::int8_t* out, std::int64_t stride, std::int32_t n,
                                  std::uint8_t* scratch);
  void (*fully_connected_s8_s32_tile)(const OpParams&, const QuantWeights&, const std::int8_t* in,
                                      std::int8_t* out, std::int64_t stride, std::int32_t n,
                                      std::uint8_t* scratch);
};

// The portable table (always available).
const KernelTable& reference_kernel_table();

// Names of the paths this build has and the running CPU can execute, best first; "reference"
// is always last.
std::vector<std::string> available_kernel_paths();

// The table named `name` ("auto" or "": the best for this CPU, unless the environment variable
// FDAL_KERNELS names one). Throws std::invalid_argument for an unknown name or a path this CPU
// cannot run.
const KernelTable& kernel_table_by_name(const std::string& name);

// kernel_table_by_name(FDAL_KERNELS or "auto").
const KernelTable& select_kernel_table();

}  // namespace fdal
