// aarch64 SDOT dot products of int8 embedding rows for the pool selection rules (kernels/pool_dot.h;
// this file alone is compiled with -march=armv8.2-a+dotprod, and the neon-dotprod table's
// pool_dot_s8 slot runs it only where HWCAP_ASIMDDP says the CPU has SDOT). One row of a against
// four rows of b: per 16 values of depth, 5 loads and 4 SDOT (16 int8 products each, summed in
// fours into int32 lanes: exact). Bit-exact to reference::pool_dot_s8: integer sums do not depend
// on their order. The int16 slot stays the reference loop, which the compiler vectorizes itself.
#include <arm_neon.h>

#include "kernels/arm/arm_kernels.h"

namespace fdal {
namespace arm {

void pool_dot_s8_dotprod(const std::int8_t* rows, std::int64_t stride, const std::int32_t* ia,
                         std::int32_t na, const std::int32_t* ib, std::int32_t nb, std::int32_t* out) {
  for (std::int32_t a = 0; a < na; ++a) {
    const std::int8_t* x = rows + std::int64_t(ia[a]) * stride;
    std::int32_t* o = out + std::int64_t(a) * nb;
    std::int32_t b = 0;
    for (; b + 4 <= nb; b += 4) {
      const std::int8_t* y0 = rows + std::int64_t(ib[b]) * stride;
      const std::int8_t* y1 = rows + std::int64_t(ib[b + 1]) * stride;
      const std::int8_t* y2 = rows + std::int64_t(ib[b + 2]) * stride;
      const std::int8_t* y3 = rows + std::int64_t(ib[b + 3]) * stride;
      int32x4_t s0 = vdupq_n_s32(0), s1 = s0, s2 = s0, s3 = s0;
      for (std::int64_t t = 0; t < stride; t += 16) {
        const int8x16_t xv = vld1q_s8(x + t);
        s0 = vdotq_s32(s0, xv, vld1q_s8(y0 + t));
        s1 = vdotq_s32(s1, xv, vld1q_s8(y1 + t));
        s2 = vdotq_s32(s2, xv, vld1q_s8(y2 + t));
        s3 = vdotq_s32(s3, xv, vld1q_s8(y3 + t));
      }
      o[b] = vaddvq_s32(s0);
      o[b + 1] = vaddvq_s32(s1);
      o[b + 2] = vaddvq_s32(s2);
      o[b + 3] = vaddvq_s32(s3);
    }
    for (; b < nb; ++b) {
      const std::int8_t* y = rows + std::int64_t(ib[b]) * stride;
      int32x4_t s = vdupq_n_s32(0);
      for (std::int64_t t = 0; t < stride; t += 16) s = vdotq_s32(s, vld1q_s8(x + t), vld1q_s8(y + t));
      o[b] = vaddvq_s32(s);
    }
  }
}

}  // namespace arm
}  // namespace fdal
