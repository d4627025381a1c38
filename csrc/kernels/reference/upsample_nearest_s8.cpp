// upsample_nearest_s8: in (in_h, in_w, c) int8 -> out (in_h*kh, in_w*kw, c) int8 NHWC,
// each value replicated kh x kw (factors 1..16). Scale and zero point unchanged.
// out[y][x][ch] = in[y / kh][x / kw][ch].
#include <cstring>

#include "kernels/reference/reference_kernels.h"

namespace fdal {
namespace reference {

void upsample_nearest_s8(const OpParams& p, const std::int8_t* in, std::int8_t* out) {
  const std::int32_t c = p.in.c;
  for (std::int32_t y = 0; y < p.out.h; ++y) {
    for (std::int32_t x = 0; x < p.out.w; ++x) {
      const std::int8_t* src = in + (std::int64_t(y / p.kernel_h) * p.in.w + x / p.kernel_w) * c;
      std::memcpy(out + (std::int64_t(y) * p.out.w + x) * c, src, std::size_t(c));
    }
  }
}

}  // namespace reference
}  // namespace fdal
