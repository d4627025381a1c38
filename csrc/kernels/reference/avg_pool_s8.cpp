// avg_pool_s8: in (in_h, in_w, c) int8 NHWC -> out (out_h, out_w, c) int8, window kh x kw, no pad.
// out = sum / n rounded half away from zero with C integer division (n = kh*kw <= 225 taps).
// Scale and zero point unchanged; result clamped to [act_min, act_max].
#include "kernels/reference/reference_kernels.h"

namespace fdal {
namespace reference {

void avg_pool_s8(const OpParams& p, const std::int8_t* in, std::int8_t* out) {
  const std::int32_t c = p.in.c;
  for (std::int32_t oy = 0; oy < p.out.h; ++oy) {
    for (std::int32_t ox = 0; ox < p.out.w; ++ox) {
      const std::int32_t y0 = oy * p.stride_h - p.pad_top;
      const std::int32_t x0 = ox * p.stride_w - p.pad_left;
      for (std::int32_t ch = 0; ch < c; ++ch) {
        std::int32_t sum = 0, n = 0;
        for (std::int32_t ky = 0; ky < p.kernel_h; ++ky) {
          const std::int32_t y = y0 + ky;
          if (y < 0 || y >= p.in.h) continue;
          for (std::int32_t kx = 0; kx < p.kernel_w; ++kx) {
            const std::int32_t x = x0 + kx;
            if (x < 0 || x >= p.in.w) continue;
            sum += in[(std::int64_t(y) * p.in.w + x) * c + ch];
            ++n;
          }
        }
        std::int32_t avg = sum >= 0 ? (sum + n / 2) / n : -((-sum + n / 2) / n);
        if (avg < p.act_min) avg = p.act_min;
        if (avg > p.act_max) avg = p.act_max;
        out[(std::int64_t(oy) * p.out.w + ox) * c + ch] = static_cast<std::int8_t>(avg);
      }
    }
  }
}

}  // namespace reference
}  // namespace fdal
