// out[a * nb + b] = dot(rows[ia[a]], rows[ib[b]]) over `stride` int8 (kernels/pool_dot.h).
#include "kernels/reference/reference_kernels.h"

namespace fdal {
namespace reference {

void pool_dot_s8(const std::int8_t* rows, std::int64_t stride, const std::int32_t* ia, std::int32_t na,
                 const std::int32_t* ib, std::int32_t nb, std::int32_t* out) {
  for (std::int32_t a = 0; a < na; ++a) {
    const std::int8_t* x = rows + std::int64_t(ia[a]) * stride;
    for (std::int32_t b = 0; b < nb; ++b) {
      const std::int8_t* y = rows + std::int64_t(ib[b]) * stride;
      std::int32_t s = 0;
      for (std::int64_t t = 0; t < stride; ++t) s += std::int32_t(x[t]) * std::int32_t(y[t]);
      out[std::int64_t(a) * nb + b] = s;
    }
  }
}

}  // namespace reference
}  // namespace fdal
