// portable::fully_connected_s8_s32: bit-exact to reference::fully_connected_s8_s32, no intrinsics.
// fully_connected_s8_s32: the head variant of fully_connected_s8 (logits, sampler score).
// in K int8 values, weights [out_c][K] int8, bias int32[out_c]; out int32[out_c] = the raw
// accumulators, bias included, no requantization (unit = in_scale * weight_scale).
#include <algorithm>

#include "kernels/portable/portable_kernels.h"

namespace fdal {
namespace portable {

// Why this shape: as fully_connected_s8, x - in_zero_point is converted once per chunk into an
// int16 stack buffer and each output is a vectorizable int8 x int16 dot product; the int32
// outputs themselves hold the running sums across chunks (exact, docs/quantization.md).
void fully_connected_s8_s32(const OpParams& p, const QuantWeights& q, const std::int8_t* in,
                            std::int32_t* out) {
  constexpr std::int64_t kChunk = 4096;
  alignas(16) std::int16_t x[kChunk];
  const std::int64_t k = p.in.elements();
  for (std::int32_t oc = 0; oc < p.out.c; ++oc) out[oc] = q.bias[oc];
  for (std::int64_t k0 = 0; k0 < k; k0 += kChunk) {
    const std::int32_t n = std::int32_t(std::min(kChunk, k - k0));
    for (std::int32_t i = 0; i < n; ++i) x[i] = std::int16_t(in[k0 + i] - p.in_zero_point);
    for (std::int32_t oc = 0; oc < p.out.c; ++oc) {
      const std::int8_t* w = q.weights + oc * k + k0;
      std::int32_t sum = 0;
      for (std::int32_t i = 0; i < n; ++i) sum += std::int32_t(w[i]) * x[i];
      out[oc] += sum;
    }
  }
}

}  // namespace portable
}  // namespace fdal
