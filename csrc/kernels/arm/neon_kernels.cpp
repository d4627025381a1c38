// NEON kernels for armv7 and aarch64. Output channels in lanes (8 per block: two int32x4),
// activations int16 (x - in_zp) multiplied by a scalar with vmlal_n_s16: exact int32 sums, no
// saturation. Requantization is the reference's scalar 64-bit formula.
#include <arm_neon.h>

#include "kernels/arm/arm_kernels.h"
#include "kernels/arm/lane_kernels.h"
#include "kernels/conv_geometry.h"
#include "kernels/relayout.h"

namespace fdal {
namespace {

constexpr int kLanes = 8;
#if defined(__aarch64__)
constexpr int kPixels = 8;  // 32 vector registers
#else
constexpr int kPixels = 4;  // 16 quad registers on armv7
#endif

using Geometry = ConvGeometry<std::int16_t, std::int16_t>;

template <int P>
void conv_pixels(const OpParams& p, const QuantWeights& q, const Geometry& g, std::int32_t pix,
                 std::int32_t b, std::int8_t* out) {
  std::int64_t base[P];
  window_origins<P>(g, pix, base);
  int32x4_t lo[P], hi[P];
  for (int i = 0; i < P; ++i) lo[i] = hi[i] = vdupq_n_s32(0);
  const std::int16_t* wb = g.weights + b * g.block_stride;
  for (std::int32_t t = 0; t < g.taps; ++t) {
    const std::int16_t* a = g.act + g.tap_offset[t];
    const std::int16_t* wt = wb + std::int64_t(t) * g.cpad * kLanes;
    for (std::int32_t ch = 0; ch < g.cpad; ++ch) {
      const int16x8_t w = vld1q_s16(wt + ch * kLanes);
      const int16x4_t wl = vget_low_s16(w), wh = vget_high_s16(w);
      for (int i = 0; i < P; ++i) {
        const std::int16_t x = a[base[i] + ch];
        lo[i] = vmlal_n_s16(lo[i], wl, x);
        hi[i] = vmlal_n_s16(hi[i], wh, x);
      }
    }
  }
  const std::int32_t c0 = b * kLanes;
  const std::int32_t n = p.out.c - c0 < kLanes ? p.out.c - c0 : kLanes;
  for (int i = 0; i < P; ++i) {
    std::int32_t acc[kLanes];
    vst1q_s32(acc, lo[i]);
    vst1q_s32(acc + 4, hi[i]);
    const StoreRequantized store{p, q, out + std::int64_t(pix + i) * p.out.c};
    for (std::int32_t c = 0; c < n; ++c) store(c0 + c, acc[c] + q.packed_bias[c0 + c]);
  }
}

void conv2d_s8_neon(const OpParams& p, const QuantWeights& q, const std::int8_t* in,
                    std::int8_t* out, std::uint8_t* scratch) {
  const std::int32_t cpad = p.in.c;
  std::int16_t* act = reinterpret_cast<std::int16_t*>(scratch);
  relayout_conv_input_s16(p, in, cpad, act);
  Geometry g;
  fill_conv_geometry(p, q, cpad, kLanes, act, &g);
  for_each_pixel_run<kPixels>(p, q.oc_pad / kLanes, [&](std::int32_t pix, std::int32_t b, auto n) {
    conv_pixels<decltype(n)::value>(p, q, g, pix, b, out);
  });
}

// The int32 accumulators (bias included) of every output channel of a fully connected layer.
template <typename Store>
void fc_accumulate(const OpParams& p, const QuantWeights& q, const std::int8_t* in,
                   std::uint8_t* scratch, Store store) {
  const std::int64_t k = p.in.elements();
  std::int16_t* act = reinterpret_cast<std::int16_t*>(scratch);
  relayout_fc_input_s16(k, in, p.in_zero_point, k, act);
  const std::int16_t* weights = static_cast<const std::int16_t*>(q.packed);
  for (std::int32_t b = 0; b < q.oc_pad / kLanes; ++b) {
    const std::int16_t* wb = weights + std::int64_t(b) * k * kLanes;
    int32x4_t lo0 = vdupq_n_s32(0), hi0 = lo0, lo1 = lo0, hi1 = lo0;  // two chains for latency
    std::int64_t i = 0;
    for (; i + 2 <= k; i += 2) {
      const int16x8_t w0 = vld1q_s16(wb + i * kLanes), w1 = vld1q_s16(wb + (i + 1) * kLanes);
      lo0 = vmlal_n_s16(lo0, vget_low_s16(w0), act[i]);
      hi0 = vmlal_n_s16(hi0, vget_high_s16(w0), act[i]);
      lo1 = vmlal_n_s16(lo1, vget_low_s16(w1), act[i + 1]);
      hi1 = vmlal_n_s16(hi1, vget_high_s16(w1), act[i + 1]);
    }
    for (; i < k; ++i) {
      const int16x8_t w0 = vld1q_s16(wb + i * kLanes);
      lo0 = vmlal_n_s16(lo0, vget_low_s16(w0), act[i]);
      hi0 = vmlal_n_s16(hi0, vget_high_s16(w0), act[i]);
    }
    std::int32_t acc[kLanes];
    vst1q_s32(acc, vaddq_s32(lo0, lo1));
    vst1q_s32(acc + 4, vaddq_s32(hi0, hi1));
    const std::int32_t c0 = b * kLanes;
    for (std::int32_t c = 0; c < kLanes && c0 + c < p.out.c; ++c) store(c0 + c, acc[c] + q.packed_bias[c0 + c]);
  }
}

void fully_connected_s8_neon(const OpParams& p, const QuantWeights& q, const std::int8_t* in,
                             std::int8_t* out, std::uint8_t* scratch) {
  fc_accumulate(p, q, in, scratch, StoreRequantized{p, q, out});
}

void fully_connected_s8_s32_neon(const OpParams& p, const QuantWeights& q, const std::int8_t* in,
                                 std::int32_t* out, std::uint8_t* scratch) {
  fc_accumulate(p, q, in, scratch, [&](std::int32_t c, std::int32_t acc) { out[c] = acc; });
}

}  // namespace

// Called only once cpu_features() says the CPU runs this file's instructions (kernel_paths.cpp).
const KernelTable& neon_kernel_table() {
  static const KernelTable table =
      packed_kernel_table("neon", PackSpec{PackKind::Lane16, kLanes, 0}, &conv2d_s8_neon,
                          &fully_connected_s8_neon, &fully_connected_s8_s32_neon);
  return table;
}

}  // namespace fdal
