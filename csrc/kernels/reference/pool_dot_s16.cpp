// out[a * nb + b] = dot(a16 row a, b16 row b) over `stride` int16 (kernels/pool_dot.h).
#include "kernels/reference/reference_kernels.h"

namespace fdal {
namespace reference {

void pool_dot_s16(const std::int16_t* a16, std::int32_t na, const std::int16_t* b16, std::int32_t nb,
                  std::int64_t stride, std::int32_t* out) {
  for (std::int32_t a = 0; a < na; ++a) {
    const std::int16_t* x = a16 + std::int64_t(a) * stride;
    for (std::int32_t b = 0; b < nb; ++b) {
      const std::int16_t* y = b16 + std::int64_t(b) * stride;
      std::int32_t s = 0;
      for (std::int64_t t = 0; t < stride; ++t) s += std::int32_t(x[t]) * std::int32_t(y[t]);
      out[std::int64_t(a) * nb + b] = s;
    }
  }
}

}  // namespace reference
}  // namespace fdal
