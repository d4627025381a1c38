// max_pool_s8: in (in_h, in_w, c) int8 NHWC -> out (out_h, out_w, c) int8, window kh x kw.
// Padded taps are ignored (pad < kernel guarantees one real tap per window).
// Scale and zero point unchanged; result clamped to [act_min, act_max] (-128..127 for pools).
#include "kernels/reference/reference_kernels.h"

namespace fdal {
namespace reference {

void max_pool_s8(const OpParams& p, const std::int8_t* in, std::int8_t* out) {
  const std::int32_t c = p.in.c;
  for (std::int32_t oy = 0; oy < p.out.h; ++oy) {
    for (std::int32_t ox = 0; ox < p.out.w; ++ox) {
      const std::int32_t y0 = oy * p.stride_h - p.pad_top;
      const std::int32_t x0 = ox * p.stride_w - p.pad_left;
      for (std::int32_t ch = 0; ch < c; ++ch) {
        std::int32_t best = -129;  // below every int8: replaced by the first real tap
        for (std::int32_t ky = 0; ky < p.kernel_h; ++ky) {
          const std::int32_t y = y0 + ky;
          if (y < 0 || y >= p.in.h) continue;
          for (std::int32_t kx = 0; kx < p.kernel_w; ++kx) {
            const std::int32_t x = x0 + kx;
            if (x < 0 || x >= p.in.w) continue;
            const std::int32_t v = in[(std::int64_t(y) * p.in.w + x) * c + ch];
            if (v > best) best = v;
          }
        }
        if (best < p.act_min) best = p.act_min;
        if (best > p.act_max) best = p.act_max;
        out[(std::int64_t(oy) * p.out.w + ox) * c + ch] = static_cast<std::int8_t>(best);
      }
    }
  }
}

}  // namespace reference
}  // namespace fdal
