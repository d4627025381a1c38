// aarch64 dot-product kernels (this file alone is compiled with -march=armv8.2-a+dotprod).
// SDOT multiplies s8 x s8: activations are the int8 values themselves (padding taps hold in_zp)
// and -in_zp * sum_k w is folded into packed_bias at load (Dot4 layout, act_offset 0).
// 16 output channels per block = four int32x4 accumulators; scalar exact requantization.
#include <arm_neon.h>

#include <cstring>

#include "kernels/arm/arm_kernels.h"
#include "kernels/arm/lane_kernels.h"
#include "kernels/conv_geometry.h"
#include "kernels/relayout.h"

namespace fdal {
namespace {

constexpr int kLanes = 16;
constexpr int kPixels = 4;

inline int8x16_t broadcast4(const std::uint8_t* p) {
  std::int32_t v;
  std::memcpy(&v, p, 4);
  return vreinterpretq_s8_s32(vdupq_n_s32(v));
}

using Geometry = ConvGeometry<std::uint8_t, std::int8_t>;

template <int P>
void conv_pixels(const OpParams& p, const QuantWeights& q, const Geometry& g, std::int32_t pix,
                 std::int32_t b, std::int8_t* out) {
  std::int64_t base[P];
  window_origins<P>(g, pix, base);
  int32x4_t acc[P][4];
  for (int i = 0; i < P; ++i)
    for (int j = 0; j < 4; ++j) acc[i][j] = vdupq_n_s32(0);
  const std::int8_t* wb = g.weights + b * g.block_stride;
  const std::int32_t groups_per_tap = g.cpad / 4;
  for (std::int32_t t = 0; t < g.taps; ++t) {
    const std::uint8_t* a = g.act + g.tap_offset[t];
    const std::int8_t* wt = wb + std::int64_t(t) * groups_per_tap * 64;
    for (std::int32_t gi = 0; gi < groups_per_tap; ++gi) {
      int8x16_t w[4];
      for (int j = 0; j < 4; ++j) w[j] = vld1q_s8(wt + gi * 64 + j * 16);
      for (int i = 0; i < P; ++i) {
        const int8x16_t x = broadcast4(a + base[i] + gi * 4);
        for (int j = 0; j < 4; ++j) acc[i][j] = vdotq_s32(acc[i][j], w[j], x);
      }
    }
  }
  const std::int32_t c0 = b * kLanes;
  const std::int32_t n = p.out.c - c0 < kLanes ? p.out.c - c0 : kLanes;
  for (int i = 0; i < P; ++i) {
    std::int32_t sums[kLanes];
    for (int j = 0; j < 4; ++j) vst1q_s32(sums + 4 * j, acc[i][j]);
    const StoreRequantized store{p, q, out + std::int64_t(pix + i) * p.out.c};
    for (std::int32_t c = 0; c < n; ++c) store(c0 + c, sums[c] + q.packed_bias[c0 + c]);
  }
}

void conv2d_s8_dotprod(const OpParams& p, const QuantWeights& q, const std::int8_t* in,
                       std::int8_t* out, std::uint8_t* scratch) {
  const std::int32_t cpad = std::int32_t(round_up(p.in.c, 4));
  relayout_conv_input_s8(p, in, cpad, 0, scratch);
  Geometry g;
  fill_conv_geometry(p, q, cpad, kLanes, scratch, &g);
  for_each_pixel_run<kPixels>(p, q.oc_pad / kLanes, [&](std::int32_t pix, std::int32_t b, auto n) {
    conv_pixels<decltype(n)::value>(p, q, g, pix, b, out);
  });
}

template <typename Store>
void fc_accumulate(const OpParams& p, const QuantWeights& q, const std::int8_t* in,
                   std::uint8_t* scratch, Store store) {
  const std::int64_t k = p.in.elements(), kp = round_up(k, 4), groups = kp / 4;
  relayout_fc_input_s8(k, in, kp, 0, scratch);
  const std::int8_t* weights = static_cast<const std::int8_t*>(q.packed);
  for (std::int32_t b = 0; b < q.oc_pad / kLanes; ++b) {
    const std::int8_t* wb = weights + std::int64_t(b) * groups * 64;
    int32x4_t acc[4] = {vdupq_n_s32(0), vdupq_n_s32(0), vdupq_n_s32(0), vdupq_n_s32(0)};
    for (std::int64_t gi = 0; gi < groups; ++gi) {
      const int8x16_t x = broadcast4(scratch + 4 * gi);
      for (int j = 0; j < 4; ++j) acc[j] = vdotq_s32(acc[j], vld1q_s8(wb + gi * 64 + j * 16), x);
    }
    std::int32_t sums[kLanes];
    for (int j = 0; j < 4; ++j) vst1q_s32(sums + 4 * j, acc[j]);
    const std::int32_t c0 = b * kLanes;
    for (std::int32_t c = 0; c < kLanes && c0 + c < p.out.c; ++c) store(c0 + c, sums[c] + q.packed_bias[c0 + c]);
  }
}

void fully_connected_s8_dotprod(const OpParams& p, const QuantWeights& q, const std::int8_t* in,
                                std::int8_t* out, std::uint8_t* scratch) {
  fc_accumulate(p, q, in, scratch, StoreRequantized{p, q, out});
}

void fully_connected_s8_s32_dotprod(const OpParams& p, const QuantWeights& q,
                                    const std::int8_t* in, std::int32_t* out,
                                    std::uint8_t* scratch) {
  fc_accumulate(p, q, in, scratch, [&](std::int32_t c, std::int32_t acc) { out[c] = acc; });
}

// The packed table with SDOT's pool dot product (pool_dot_dotprod.cpp) in its pool_dot_s8 slot.
KernelTable with_sdot_pool_dot(KernelTable t) {
  t.pool_dot_s8 = &arm::pool_dot_s8_dotprod;
  return t;
}

}  // namespace

// Called only once cpu_features() says the CPU runs this file's instructions (kernel_paths.cpp).
const KernelTable& neon_dotprod_kernel_table() {
  static const KernelTable table = with_sdot_pool_dot(
      packed_kernel_table("neon-dotprod", PackSpec{PackKind::Dot4, kLanes, 0}, &conv2d_s8_dotprod,
                          &fully_connected_s8_dotprod, &fully_connected_s8_s32_dotprod));
  return table;
}

}  // namespace fdal
