// fully_connected_s8: in K = in_h*in_w*in_c int8 values in memory order, weights [out_c][K] int8
// in [-127, 127], bias int32[out_c], per-channel multiplier/shift; out (1, 1, out_c) int8.
// K*127*255 + max|bias| <= 2^31-1 (checked at load), so the int32 accumulator cannot overflow.
#include "kernels/reference/fully_connected_accumulator.h"
#include "kernels/reference/reference_kernels.h"
#include "kernels/reference/requantize.h"

namespace fdal {
namespace reference {

void fully_connected_s8(const OpParams& p, const QuantWeights& q, const std::int8_t* in,
                        std::int8_t* out) {
  for (std::int32_t oc = 0; oc < p.out.c; ++oc) {
    out[oc] = requantize(fully_connected_accumulator(p, q, in, oc), q.multiplier[oc], q.shift[oc],
                         p.out_zero_point, p.act_min, p.act_max);
  }
}

}  // namespace reference
}  // namespace fdal
