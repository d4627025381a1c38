// The kernel table: one function pointer per op, chosen once when a model is loaded.
// Every entry of every table is bit-exact to the reference kernels (docs/quantization.md).
// Each path's table starts from reference_kernel_table() and overrides, by member name, only
// the slots it implements; kernels/kernel_paths.h lists the paths.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/kernel_params.h"
#include "kernels/packed_layout.h"
#include "kernels/pool_dot.h"

namespace fdal {

struct KernelTable {
  const char* name;  // a name of kernels/kernel_paths.cpp's list
  // The layout the conv / fc kernels read from QuantWeights::packed (model/pack_weights.cpp
  // prepares it at load). PackKind::None: they read the plain weights; only a conv2d_s8 with a
  // conv2d_s8_scratch_bytes reads `scratch`.
  PackSpec pack;
  void (*input_lookup_u8)(const std::uint8_t* pixels, std::int64_t stride_h,
                          std::int64_t stride_w, std::int64_t stride_c, const TensorShape& shape,
                          const std::int8_t* lut, std::int8_t* out);
  // scratch: Model::scratch_bytes from the Workspace, for the re-laid-out activations (and the
  // portable conv2d's int16 buffers).
  void (*conv2d_s8)(const OpParams&, const QuantWeights&, const std::int8_t* in, std::int8_t* out,
                    std::uint8_t* scratch);
  void (*fully_connected_s8)(const OpParams&, const QuantWeights&, const std::int8_t* in,
                             std::int8_t* out, std::uint8_t* scratch);
  void (*fully_connected_s8_s32)(const OpParams&, const QuantWeights&, const std::int8_t* in,
                                 std::int32_t* out, std::uint8_t* scratch);
  void (*max_pool_s8)(const OpParams&, const std::int8_t*, std::int8_t*);
  void (*avg_pool_s8)(const OpParams&, const std::int8_t*, std::int8_t*);
  void (*relu_s8)(const OpParams&, const std::int8_t*, std::int8_t*);
  void (*upsample_nearest_s8)(const OpParams&, const std::int8_t*, std::int8_t*);
  void (*copy_s8)(const OpParams&, const std::int8_t*, std::int8_t*);

  // A different unit of work: one fully connected layer over n <= tile_images images whose
  // inputs and outputs are `stride` bytes apart (one arena per image), weights streamed once.
  // Null (tile_images 1): the executor runs the per-image slots above.
  std::int32_t tile_images;
  void (*fully_connected_s8_tile)(const OpParams&, const QuantWeights&, const std::int8_t* in,
                                  std::int8_t* out, std::int64_t stride, std::int32_t n,
                                  std::uint8_t* scratch);
  void (*fully_connected_s8_s32_tile)(const OpParams&, const QuantWeights&, const std::int8_t* in,
                                      std::int8_t* out, std::int64_t stride, std::int32_t n,
                                      std::uint8_t* scratch);

  // Bytes of scratch conv2d_s8 needs for one layer when it reads the plain weights
  // (PackKind::None: model/pack_weights.cpp sizes Model::scratch_bytes with it); null: none.
  std::int64_t (*conv2d_s8_scratch_bytes)(const OpParams&);

  // The pool selection rules' dot products (kernels/pool_dot.h), not a layer's kernels.
  PoolDotS8Fn pool_dot_s8;
  PoolDotS16Fn pool_dot_s16;
};

// The signature of the conv / fully connected slots (int8 and int32 outputs).
using LayerKernelS8 = void (*)(const OpParams&, const QuantWeights&, const std::int8_t*, std::int8_t*,
                               std::uint8_t*);
using LayerKernelS32 = void (*)(const OpParams&, const QuantWeights&, const std::int8_t*,
                                std::int32_t*, std::uint8_t*);

// The base of every SIMD path's table: the reference table with the contiguous-pixel input
// lookup and the three kernels that read weights packed in `pack` (they belong together: one
// layout). Built in flag-free code; the caller overrides any further slot by name.
KernelTable packed_kernel_table(const char* name, PackSpec pack, LayerKernelS8 conv2d_s8,
                                LayerKernelS8 fully_connected_s8,
                                LayerKernelS32 fully_connected_s8_s32);

// A conv / fully connected kernel that reads the plain weights (reference, portable) in the
// table's signature: the scratch pointer is not needed. Instantiate it in flag-free files only.
template <typename Out, void (*Kernel)(const OpParams&, const QuantWeights&, const std::int8_t*, Out*)>
void ignoring_scratch(const OpParams& p, const QuantWeights& q, const std::int8_t* in, Out* out,
                      std::uint8_t* /*scratch*/) {
  Kernel(p, q, in, out);
}

// The simple direct loops of kernels/reference (always available): the base of every table.
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
