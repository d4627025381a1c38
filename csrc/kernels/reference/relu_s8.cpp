// relu_s8: in (h, w, c) int8 -> out (h, w, c) int8, out = clamp(in, act_min, act_max)
// with act_min = zero point, act_max = 127 (validated at load): max(q, zero_point).
// Scale and zero point unchanged.
#include "kernels/reference/reference_kernels.h"

namespace fdal {
namespace reference {

void relu_s8(const OpParams& p, const std::int8_t* in, std::int8_t* out) {
  const std::int64_t n = p.in.elements();
  for (std::int64_t i = 0; i < n; ++i) {
    std::int32_t v = in[i];
    if (v < p.act_min) v = p.act_min;
    if (v > p.act_max) v = p.act_max;
    out[i] = static_cast<std::int8_t>(v);
  }
}

}  // namespace reference
}  // namespace fdal
