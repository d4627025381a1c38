// fully_connected_s8_s32: the head variant of fully_connected_s8 (logits, sampler score).
// in K int8 values, weights [out_c][K] int8, bias int32[out_c]; out int32[out_c] = the raw
// accumulators, bias included, no requantization (unit = in_scale * weight_scale).
#include "kernels/reference/fully_connected_accumulator.h"
#include "kernels/reference/reference_kernels.h"

namespace fdal {
namespace reference {

void fully_connected_s8_s32(const OpParams& p, const QuantWeights& q, const std::int8_t* in,
                            std::int32_t* out) {
  for (std::int32_t oc = 0; oc < p.out.c; ++oc) out[oc] = fully_connected_accumulator(p, q, in, oc);
}

}  // namespace reference
}  // namespace fdal
