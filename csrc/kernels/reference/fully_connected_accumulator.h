// The int32 accumulator of output channel oc of a fully connected layer, the one definition
// fully_connected_s8 and fully_connected_s8_s32 share: in K = in.elements() int8 values,
// weights [out_c][K] int8. acc = bias[oc] + sum over i of w[oc][i] * (x[i] - in_zero_point),
// exact in int32 (K*127*255 + max|bias| <= 2^31-1, checked at load). Reference files only.
#pragma once
#include <cstdint>

#include "kernels/kernel_params.h"

namespace fdal {
namespace reference {

inline std::int32_t fully_connected_accumulator(const OpParams& p, const QuantWeights& q,
                                                const std::int8_t* in, std::int32_t oc) {
  const std::int64_t k = p.in.elements();
  std::int32_t acc = q.bias[oc];
  for (std::int64_t i = 0; i < k; ++i) {
    acc += std::int32_t(q.weights[oc * k + i]) * (std::int32_t(in[i]) - p.in_zero_point);
  }
  return acc;
}

}  // namespace reference
}  // namespace fdal
