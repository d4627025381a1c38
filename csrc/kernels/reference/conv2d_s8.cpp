// conv2d_s8: in (in_h, in_w, in_c) int8 NHWC, weights [out_c][kh][kw][in_c] int8 in [-127, 127],
// bias int32[out_c], per-channel multiplier/shift; out (out_h, out_w, out_c) int8 NHWC.
// Any kernel 1..15, stride 1..15, padding < kernel; taps outside the input read in_zero_point.
#include "kernels/reference/reference_kernels.h"
#include "kernels/reference/requantize.h"

namespace fdal {
namespace reference {

void conv2d_s8(const OpParams& p, const QuantWeights& q, const std::int8_t* in, std::int8_t* out) {
  const std::int32_t in_h = p.in.h, in_w = p.in.w, in_c = p.in.c;
  for (std::int32_t oy = 0; oy < p.out.h; ++oy) {
    for (std::int32_t ox = 0; ox < p.out.w; ++ox) {
      const std::int32_t y0 = oy * p.stride_h - p.pad_top;
      const std::int32_t x0 = ox * p.stride_w - p.pad_left;
      for (std::int32_t oc = 0; oc < p.out.c; ++oc) {
        const std::int8_t* w = q.weights + std::int64_t(oc) * p.kernel_h * p.kernel_w * in_c;
        std::int32_t acc = q.bias[oc];
        for (std::int32_t ky = 0; ky < p.kernel_h; ++ky) {
          const std::int32_t y = y0 + ky;
          if (y < 0 || y >= in_h) continue;  // padded row: x - zero_point = 0
          for (std::int32_t kx = 0; kx < p.kernel_w; ++kx) {
            const std::int32_t x = x0 + kx;
            if (x < 0 || x >= in_w) continue;
            const std::int8_t* px = in + (std::int64_t(y) * in_w + x) * in_c;
            const std::int8_t* wk = w + (std::int64_t(ky) * p.kernel_w + kx) * in_c;
            for (std::int32_t ic = 0; ic < in_c; ++ic) {
              acc += std::int32_t(wk[ic]) * (std::int32_t(px[ic]) - p.in_zero_point);
            }
          }
        }
        out[(std::int64_t(oy) * p.out.w + ox) * p.out.c + oc] = requantize(
            acc, q.multiplier[oc], q.shift[oc], p.out_zero_point, p.act_min, p.act_max);
      }
    }
  }
}

}  // namespace reference
}  // namespace fdal
