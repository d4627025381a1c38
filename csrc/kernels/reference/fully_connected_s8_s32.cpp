// fully_connected_s8_s32: the head variant of fully_connected_s8 (logits, sampler score).
// in K int8 values, weights [out_c][K] int8, bias int32[out_c]; out int32[out_c] = the raw
// accumulators, bias included, no requantization (unit = in_scale * weight_scale).
#include "kernels/reference/reference_kernels.h"

namespace fdal {
namespace reference {

void fully_connected_s8_s32(const OpParams& p, const QuantWeights& q, const std::int8_t* in,
                            std::int32_t* out) {
  const std::int64_t k = p.in.elements();
  for (std::int32_t oc = 0; oc < p.out.c; ++oc) {
    // out[oc] = bias[oc] + sum over i of w[oc][i] * (x[i] - in_zp)
    std::int32_t acc = q.bias[oc];
    for (std::int64_t i = 0; i < k; ++i) {
      acc += std::int32_t(q.weights[oc * k + i]) * (std::int32_t(in[i]) - p.in_zero_point);
    }
    out[oc] = acc;
  }
}

}  // namespace reference
}  // namespace fdal
