// max_pool_s8: in (in_h, in_w, c) int8 NHWC -> out (out_h, out_w, c) int8, window kh x kw.
// Padded taps are ignored (pad < kernel guarantees one real tap per window).
// Scale and zero point unchanged; result clamped to [act_min, act_max] (-128..127 for pools).
#include <algorithm>
#include <cstdint>

#include "kernels/reference/reference_kernels.h"

namespace fdal {
namespace reference {

// Why this shape: the channel loop is innermost, so each real tap of the window updates the
// whole output pixel with an elementwise max over c contiguous int8 values, which compilers
// vectorize; the window bounds are clipped once per pixel instead of tested per tap.
void max_pool_s8(const OpParams& p, const std::int8_t* in, std::int8_t* out) {
  const std::int32_t c = p.in.c;
  for (std::int32_t oy = 0; oy < p.out.h; ++oy) {
    const std::int32_t y0 = oy * p.stride_h - p.pad_top;
    const std::int32_t ky_lo = std::max<std::int32_t>(0, -y0), ky_hi = std::min<std::int32_t>(p.kernel_h, p.in.h - y0);
    for (std::int32_t ox = 0; ox < p.out.w; ++ox) {
      const std::int32_t x0 = ox * p.stride_w - p.pad_left;
      const std::int32_t kx_lo = std::max<std::int32_t>(0, -x0), kx_hi = std::min<std::int32_t>(p.kernel_w, p.in.w - x0);
      std::int8_t* o = out + (std::int64_t(oy) * p.out.w + ox) * c;
      for (std::int32_t ch = 0; ch < c; ++ch) o[ch] = -128;  // the int8 minimum: any tap wins
      for (std::int32_t ky = ky_lo; ky < ky_hi; ++ky) {
        for (std::int32_t kx = kx_lo; kx < kx_hi; ++kx) {
          const std::int8_t* v = in + (std::int64_t(y0 + ky) * p.in.w + x0 + kx) * c;
          for (std::int32_t ch = 0; ch < c; ++ch) o[ch] = std::max(o[ch], v[ch]);
        }
      }
      for (std::int32_t ch = 0; ch < c; ++ch) {
        o[ch] = std::int8_t(std::min<std::int32_t>(std::max<std::int32_t>(o[ch], p.act_min),
                                                   p.act_max));
      }
    }
  }
}

}  // namespace reference
}  // namespace fdal
