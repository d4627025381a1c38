// portable::fully_connected_s8: bit-exact to reference::fully_connected_s8, no intrinsics.
// fully_connected_s8: in K = in_h*in_w*in_c int8 values in memory order, weights [out_c][K] int8
// in [-127, 127], bias int32[out_c], per-channel multiplier/shift; out (1, 1, out_c) int8.
// K*127*255 + max|bias| <= 2^31-1 (checked at load), so the int32 accumulator cannot overflow.
#include <algorithm>

#include "kernels/portable/portable_kernels.h"
#include "kernels/reference/requantize.h"

namespace fdal {
namespace portable {

using reference::requantize;  // the one rounding rule (docs/quantization.md)

// Why this shape: x - in_zero_point is computed once per chunk of the input into an int16 stack
// buffer instead of once per output channel, and each output channel is then a dot product of a
// contiguous int8 weight row with int16 values, which compilers vectorize (pmaddwd, smlal) at the
// default target. Accumulators of a block of output channels live on the stack so any K works.
// Sums are exact int32 (docs/quantization.md): chunking does not change the result.
void fully_connected_s8(const OpParams& p, const QuantWeights& q, const std::int8_t* in,
                        std::int8_t* out) {
  constexpr std::int64_t kChunk = 4096;
  constexpr std::int32_t kOcBlock = 256;
  alignas(16) std::int16_t x[kChunk];
  std::int32_t acc[kOcBlock];
  const std::int64_t k = p.in.elements();
  for (std::int32_t oc0 = 0; oc0 < p.out.c; oc0 += kOcBlock) {
    const std::int32_t oc_n = std::min(kOcBlock, p.out.c - oc0);
    for (std::int32_t oc = 0; oc < oc_n; ++oc) acc[oc] = q.bias[oc0 + oc];
    for (std::int64_t k0 = 0; k0 < k; k0 += kChunk) {
      const std::int32_t n = std::int32_t(std::min(kChunk, k - k0));
      for (std::int32_t i = 0; i < n; ++i) x[i] = std::int16_t(in[k0 + i] - p.in_zero_point);
      for (std::int32_t oc = 0; oc < oc_n; ++oc) {
        const std::int8_t* w = q.weights + (oc0 + oc) * k + k0;
        std::int32_t sum = 0;
        for (std::int32_t i = 0; i < n; ++i) sum += std::int32_t(w[i]) * x[i];
        acc[oc] += sum;
      }
    }
    for (std::int32_t oc = 0; oc < oc_n; ++oc) {
      out[oc0 + oc] = requantize(acc[oc], q.multiplier[oc0 + oc], q.shift[oc0 + oc],
                                 p.out_zero_point, p.act_min, p.act_max);
    }
  }
}

}  // namespace portable
}  // namespace fdal
