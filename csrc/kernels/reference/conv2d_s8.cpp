// conv2d_s8: in (in_h, in_w, in_c) int8 NHWC, weights [out_c][kh][kw][in_c] int8 in [-127, 127],
// bias int32[out_c], per-channel multiplier/shift; out (out_h, out_w, out_c) int8 NHWC.
// Any kernel 1..15, stride 1..15, padding < kernel; taps outside the input read in_zero_point.
#include "kernels/reference/reference_kernels.h"
#include "kernels/reference/requantize.h"

namespace fdal {
namespace reference {

void conv2d_s8(const OpParams& p, const QuantWeights& q, const std::int8_t* in, std::int8_t* out) {
  const std::int32_t in_c = p.in.c;
  for (std::int32_t oy = 0; oy < p.out.h; ++oy) {
    for (std::int32_t ox = 0; ox < p.out.w; ++ox) {
      for (std::int32_t oc = 0; oc < p.out.c; ++oc) {
        // acc = bias[oc] + sum over (ky, kx, ic) of w[oc][ky][kx][ic] * (x[y][x][ic] - in_zp)
        std::int32_t acc = q.bias[oc];
        for (std::int32_t ky = 0; ky < p.kernel_h; ++ky) {
          const std::int32_t y = oy * p.stride_h - p.pad_top + ky;
          for (std::int32_t kx = 0; kx < p.kernel_w; ++kx) {
            const std::int32_t x = ox * p.stride_w - p.pad_left + kx;
            if (y < 0 || y >= p.in.h || x < 0 || x >= p.in.w) continue;  // in_zp - in_zp = 0
            const std::int8_t* px = in + (std::int64_t(y) * p.in.w + x) * in_c;
            const std::int8_t* w =
                q.weights + ((std::int64_t(oc) * p.kernel_h + ky) * p.kernel_w + kx) * in_c;
            for (std::int32_t ic = 0; ic < in_c; ++ic) {
              acc += std::int32_t(w[ic]) * (std::int32_t(px[ic]) - p.in_zero_point);
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
