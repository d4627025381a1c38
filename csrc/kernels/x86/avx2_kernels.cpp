// AVX2 kernels (compiled with -mavx2, this file only). Output channels in the 8 int32 lanes;
// activations are int16 (x - in_zp, in [-255, 255]) broadcast two at a time, weights int16 pairs
// (Pair16 layout); vpmaddwd sums two products of at most 255*127 each, so nothing saturates
// (unlike vpmaddubsw). Requantization is the exact 64-bit formula; AVX2 has no 64-bit arithmetic
// shift, so floor(p / 2^s) is computed as ((p ^ m) >>> s) ^ m with m = p < 0 ? -1 : 0.
#include <immintrin.h>

#include <cstring>

#include "kernels/conv_geometry.h"
#include "kernels/relayout.h"
#include "kernels/x86/x86_kernels.h"

namespace fdal {
namespace {

constexpr int kLanes = 8;

inline __m256i broadcast_pair(const std::int16_t* p) {
  std::int32_t v;
  std::memcpy(&v, p, 4);
  return _mm256_set1_epi32(v);
}

inline __m256i requantize_half(__m256i v64, const std::int64_t* mult, const std::int64_t* round,
                               const std::int64_t* shift, __m256i zp, __m256i lo, __m256i hi) {
  __m256i prod = _mm256_mul_epi32(v64, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(mult)));
  prod = _mm256_add_epi64(prod, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(round)));
  const __m256i sign = _mm256_cmpgt_epi64(_mm256_setzero_si256(), prod);
  __m256i t = _mm256_srlv_epi64(_mm256_xor_si256(prod, sign),
                                _mm256_loadu_si256(reinterpret_cast<const __m256i*>(shift)));
  t = _mm256_add_epi64(_mm256_xor_si256(t, sign), zp);
  t = _mm256_blendv_epi8(t, lo, _mm256_cmpgt_epi64(lo, t));
  t = _mm256_blendv_epi8(t, hi, _mm256_cmpgt_epi64(t, hi));
  // The low 32 bits of each 64-bit lane (already within [-128, 127]).
  return _mm256_permutevar8x32_epi32(t, _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7));
}

// The hi32 form (every shift >= 32, QuantWeights::requant_hi32): the high 32 bits of the
// 64-bit sums, even and odd channels from two vpmuldq, then a 32-bit arithmetic shift.
inline __m128i requantize8_hi32(__m256i acc, const std::uint8_t* blocks, std::int32_t c0,
                                std::int32_t zero_point, std::int32_t act_min, std::int32_t act_max) {
  const std::uint8_t* blk = blocks + std::int64_t(c0) / 16 * 256 + (c0 % 16) / 8 * 32;
  const __m256i m = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk));
  const __m256i even = _mm256_add_epi64(_mm256_mul_epi32(acc, m),
                                        _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 64)));
  const __m256i odd = _mm256_add_epi64(_mm256_mul_epi32(_mm256_srli_epi64(acc, 32), _mm256_srli_epi64(m, 32)),
                                       _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 128)));
  __m256i t = _mm256_blend_epi32(_mm256_srli_epi64(even, 32), odd, 0xAA);
  t = _mm256_srav_epi32(t, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 192)));
  t = _mm256_add_epi32(t, _mm256_set1_epi32(zero_point));  // |t| < 2^30: no overflow
  const __m128i w16 = _mm_packs_epi32(_mm256_castsi256_si128(t), _mm256_extracti128_si256(t, 1));
  const __m128i b8 = _mm_packs_epi16(w16, w16);  // saturates to [-128, 127]
  return _mm_min_epi8(_mm_max_epi8(b8, _mm_set1_epi8(std::int8_t(act_min))), _mm_set1_epi8(std::int8_t(act_max)));
}

inline __m128i requantize8(__m256i acc, const std::int64_t* rq, std::int32_t oc_pad,
                           std::int32_t c0, __m256i zp, __m256i lo, __m256i hi) {
  const std::int64_t* mult = rq + c0;
  const std::int64_t* round = rq + oc_pad + c0;  // 2^(shift-1) (+ folded zero point)
  const std::int64_t* shift = rq + 2 * std::int64_t(oc_pad) + c0;
  const __m256i a = requantize_half(_mm256_cvtepi32_epi64(_mm256_castsi256_si128(acc)), mult,
                                    round, shift, zp, lo, hi);
  const __m256i b = requantize_half(_mm256_cvtepi32_epi64(_mm256_extracti128_si256(acc, 1)),
                                    mult + 4, round + 4, shift + 4, zp, lo, hi);
  const __m128i w16 = _mm_packs_epi32(_mm256_castsi256_si128(a), _mm256_castsi256_si128(b));
  return _mm_packs_epi16(w16, w16);
}

// 8 accumulators (bias included) of channels c0..c0+7 -> 8 int8, the fastest exact form.
inline __m128i requantize8(__m256i acc, const QuantWeights& q, std::int32_t c0, __m256i zp,
                           __m256i lo, __m256i hi, std::int32_t act_min, std::int32_t act_max) {
  if (q.requant_hi32 != nullptr) return requantize8_hi32(acc, q.requant_hi32, c0, q.requant_zp, act_min, act_max);
  return requantize8(acc, q.requant64, q.oc_pad, c0, zp, lo, hi);
}

inline void store_bytes(std::int8_t* dst, __m128i v, std::int32_t n) {
  if (n >= 8) {
    _mm_storel_epi64(reinterpret_cast<__m128i*>(dst), v);
  } else {
    alignas(16) std::int8_t tmp[16];
    _mm_store_si128(reinterpret_cast<__m128i*>(tmp), v);
    std::memcpy(dst, tmp, std::size_t(n));
  }
}

using Geometry = ConvGeometry<std::int16_t, std::int16_t>;

// P output pixels of one row (ox0 .. ox0+P-1) x NB blocks of 8 output channels; the pixels'
// windows are col_step elements apart, so one pointer per tap serves all of them.
template <int NB, int P>
void conv_pixels(const OpParams& p, const QuantWeights& q, const Geometry& g, std::int32_t oy,
                 std::int32_t ox0, std::int32_t b0, std::int8_t* out) {
  const std::int16_t* origin = g.act + std::int64_t(oy) * g.row_step + std::int64_t(ox0) * g.col_step;
  const std::int64_t cs = g.col_step;
  __m256i acc[P][NB];
  for (int i = 0; i < P; ++i)
    for (int j = 0; j < NB; ++j) acc[i][j] = _mm256_setzero_si256();
  const std::int16_t* wb = g.weights + b0 * g.block_stride;
  const std::int32_t pairs_per_tap = g.cpad / 2;
  for (std::int32_t t = 0; t < g.taps; ++t) {
    const std::int16_t* a = origin + g.tap_offset[t];
    const std::int16_t* wt = wb + std::int64_t(t) * pairs_per_tap * 16;
    for (std::int32_t k = 0; k < pairs_per_tap; ++k, a += 2, wt += 16) {
      __m256i w[NB];
      for (int j = 0; j < NB; ++j)
        w[j] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wt + j * g.block_stride));
      for (int i = 0; i < P; ++i) {
        const __m256i x = broadcast_pair(a + i * cs);
        for (int j = 0; j < NB; ++j) acc[i][j] = _mm256_add_epi32(acc[i][j], _mm256_madd_epi16(x, w[j]));
      }
    }
  }
  const __m256i zp = _mm256_set1_epi64x(q.requant_zp);
  const __m256i lo = _mm256_set1_epi64x(p.act_min), hi = _mm256_set1_epi64x(p.act_max);
  std::int8_t* row = out + (std::int64_t(oy) * p.out.w + ox0) * p.out.c;
  for (int j = 0; j < NB; ++j) {
    const std::int32_t c0 = (b0 + j) * kLanes;
    const __m256i bias = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q.packed_bias + c0));
    for (int i = 0; i < P; ++i) {
      const __m128i v = requantize8(_mm256_add_epi32(acc[i][j], bias), q, c0, zp, lo, hi, p.act_min, p.act_max);
      store_bytes(row + std::int64_t(i) * p.out.c + c0, v, p.out.c - c0);
    }
  }
}

template <int NB, int P>
void conv_blocks(const OpParams& p, const QuantWeights& q, const Geometry& g, std::int32_t b0,
                 std::int8_t* out) {
  for (std::int32_t oy = 0; oy < p.out.h; ++oy) {
    std::int32_t ox = 0;
    for (; ox + P <= p.out.w; ox += P) conv_pixels<NB, P>(p, q, g, oy, ox, b0, out);
    for (; ox < p.out.w; ++ox) conv_pixels<NB, 1>(p, q, g, oy, ox, b0, out);
  }
}

void conv2d_s8_avx2(const OpParams& p, const QuantWeights& q, const std::int8_t* in,
                    std::int8_t* out, std::uint8_t* scratch) {
  const std::int32_t cpad = std::int32_t(round_up(p.in.c, 2));
  std::int16_t* act = reinterpret_cast<std::int16_t*>(scratch);
  relayout_conv_input_s16(p, in, cpad, act);
  Geometry g;
  fill_conv_geometry(p, q, cpad, kLanes, act, &g);
  const std::int32_t blocks = q.oc_pad / kLanes;
  std::int32_t b0 = 0;
  for (; b0 + 2 <= blocks; b0 += 2) conv_blocks<2, 4>(p, q, g, b0, out);
  if (b0 < blocks) conv_blocks<1, 8>(p, q, g, b0, out);
}

template <int NB, typename Store>
void fc_run(const std::int16_t* act, const QuantWeights& q, std::int64_t pairs, std::int32_t b0,
            Store store) {
  const std::int64_t stride = pairs * 16;
  const std::int16_t* wb = static_cast<const std::int16_t*>(q.packed) + b0 * stride;
  __m256i acc[NB];
  for (int j = 0; j < NB; ++j)
    acc[j] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q.packed_bias + (b0 + j) * kLanes));
  for (std::int64_t k = 0; k < pairs; ++k) {
    const __m256i x = broadcast_pair(act + 2 * k);
    for (int j = 0; j < NB; ++j)
      acc[j] = _mm256_add_epi32(
          acc[j], _mm256_madd_epi16(x, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wb + j * stride + k * 16))));
  }
  for (int j = 0; j < NB; ++j) store((b0 + j) * kLanes, acc[j]);
}

template <typename Store>
void fc_all(const std::int16_t* act, const QuantWeights& q, std::int64_t pairs, Store store) {
  const std::int32_t blocks = q.oc_pad / kLanes;
  std::int32_t b0 = 0;
  for (; b0 + 8 <= blocks; b0 += 8) fc_run<8>(act, q, pairs, b0, store);
  for (; b0 < blocks; ++b0) fc_run<1>(act, q, pairs, b0, store);
}

void fully_connected_s8_avx2(const OpParams& p, const QuantWeights& q, const std::int8_t* in,
                             std::int8_t* out, std::uint8_t* scratch) {
  const std::int64_t k = p.in.elements(), kp = round_up(k, 2);
  std::int16_t* act = reinterpret_cast<std::int16_t*>(scratch);
  relayout_fc_input_s16(k, in, p.in_zero_point, kp, act);
  const __m256i zp = _mm256_set1_epi64x(q.requant_zp);
  const __m256i lo = _mm256_set1_epi64x(p.act_min), hi = _mm256_set1_epi64x(p.act_max);
  fc_all(act, q, kp / 2, [&](std::int32_t c0, __m256i acc) {
    store_bytes(out + c0, requantize8(acc, q, c0, zp, lo, hi, p.act_min, p.act_max), p.out.c - c0);
  });
}

void fully_connected_s8_s32_avx2(const OpParams& p, const QuantWeights& q, const std::int8_t* in,
                                 std::int32_t* out, std::uint8_t* scratch) {
  const std::int64_t k = p.in.elements(), kp = round_up(k, 2);
  std::int16_t* act = reinterpret_cast<std::int16_t*>(scratch);
  relayout_fc_input_s16(k, in, p.in_zero_point, kp, act);
  fc_all(act, q, kp / 2, [&](std::int32_t c0, __m256i acc) {
    alignas(32) std::int32_t tmp[kLanes];
    _mm256_store_si256(reinterpret_cast<__m256i*>(tmp), acc);
    const std::int32_t n = p.out.c - c0 < kLanes ? p.out.c - c0 : kLanes;
    std::memcpy(out + c0, tmp, sizeof(std::int32_t) * std::size_t(n));
  });
}

// A fully connected layer over NI images at once: each weight vector is loaded once for them.
template <int NI, int NB, typename Store>
void fc_tile_run(const std::int16_t* act, std::int64_t row, const QuantWeights& q, std::int64_t pairs,
                 std::int32_t b0, Store store) {
  const std::int64_t stride = pairs * 16;
  const std::int16_t* wb = static_cast<const std::int16_t*>(q.packed) + b0 * stride;
  __m256i acc[NI][NB];
  for (int j = 0; j < NB; ++j) {
    const __m256i bias = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q.packed_bias + (b0 + j) * kLanes));
    for (int i = 0; i < NI; ++i) acc[i][j] = bias;
  }
  for (std::int64_t k = 0; k < pairs; ++k) {
    __m256i w[NB];
    for (int j = 0; j < NB; ++j)
      w[j] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wb + j * stride + k * 16));
    for (int i = 0; i < NI; ++i) {
      const __m256i x = broadcast_pair(act + i * row + 2 * k);
      for (int j = 0; j < NB; ++j) acc[i][j] = _mm256_add_epi32(acc[i][j], _mm256_madd_epi16(x, w[j]));
    }
  }
  for (int i = 0; i < NI; ++i)
    for (int j = 0; j < NB; ++j) store(i, (b0 + j) * kLanes, acc[i][j]);
}

template <int NI, typename Store>
void fc_tile_images(const std::int16_t* act, std::int64_t row, const QuantWeights& q,
                    std::int64_t pairs, Store store) {
  const std::int32_t blocks = q.oc_pad / kLanes;
  std::int32_t b0 = 0;
  for (; b0 + 2 <= blocks; b0 += 2) fc_tile_run<NI, 2>(act, row, q, pairs, b0, store);
  for (; b0 < blocks; ++b0) fc_tile_run<NI, 1>(act, row, q, pairs, b0, store);
}

// Relayouts the n inputs (stride bytes apart) into int16 scratch rows, then runs 4 images at a time.
template <typename Store>
void fc_tile(const OpParams& p, const QuantWeights& q, const std::int8_t* in, std::int64_t stride,
             std::int32_t n, std::uint8_t* scratch, Store store) {
  const std::int64_t k = p.in.elements(), kp = round_up(k, 2), row = round_up(kp * 2, 64) / 2;
  std::int16_t* act = reinterpret_cast<std::int16_t*>(scratch);
  for (std::int32_t i = 0; i < n; ++i) relayout_fc_input_s16(k, in + i * stride, p.in_zero_point, kp, act + i * row);
  std::int32_t i0 = 0;
  for (; i0 + 4 <= n; i0 += 4) {
    fc_tile_images<4>(act + i0 * row, row, q, kp / 2,
                      [&](int i, std::int32_t c0, __m256i acc) { store(i0 + i, c0, acc); });
  }
  for (; i0 < n; ++i0) {
    fc_tile_images<1>(act + i0 * row, row, q, kp / 2,
                      [&](int, std::int32_t c0, __m256i acc) { store(i0, c0, acc); });
  }
}

void fully_connected_s8_tile_avx2(const OpParams& p, const QuantWeights& q, const std::int8_t* in,
                                  std::int8_t* out, std::int64_t stride, std::int32_t n,
                                  std::uint8_t* scratch) {
  const __m256i zp = _mm256_set1_epi64x(q.requant_zp);
  const __m256i lo = _mm256_set1_epi64x(p.act_min), hi = _mm256_set1_epi64x(p.act_max);
  fc_tile(p, q, in, stride, n, scratch, [&](std::int32_t i, std::int32_t c0, __m256i acc) {
    store_bytes(out + i * stride + c0, requantize8(acc, q, c0, zp, lo, hi, p.act_min, p.act_max), p.out.c - c0);
  });
}

void fully_connected_s8_s32_tile_avx2(const OpParams& p, const QuantWeights& q,
                                      const std::int8_t* in, std::int8_t* out, std::int64_t stride,
                                      std::int32_t n, std::uint8_t* scratch) {
  fc_tile(p, q, in, stride, n, scratch, [&](std::int32_t i, std::int32_t c0, __m256i acc) {
    alignas(32) std::int32_t tmp[kLanes];
    _mm256_store_si256(reinterpret_cast<__m256i*>(tmp), acc);
    const std::int32_t count = p.out.c - c0 < kLanes ? p.out.c - c0 : kLanes;
    std::memcpy(out + i * stride + 4 * std::int64_t(c0), tmp, sizeof(std::int32_t) * std::size_t(count));
  });
}

}  // namespace

namespace x86 {

// Max pool with channels in the byte lanes (32 at a time); the last c % 32 channels and windows
// are handled with the same loop on a scalar tail.
void max_pool_s8_avx2(const OpParams& p, const std::int8_t* in, std::int8_t* out) {
  const std::int32_t c = p.in.c;
  const std::int32_t full = c / 32 * 32;
  const __m256i lo = _mm256_set1_epi8(std::int8_t(p.act_min)), hi = _mm256_set1_epi8(std::int8_t(p.act_max));
  for (std::int32_t oy = 0; oy < p.out.h; ++oy) {
    const std::int32_t y0 = oy * p.stride_h - p.pad_top;
    const std::int32_t ky0 = y0 < 0 ? -y0 : 0;
    const std::int32_t ky1 = y0 + p.kernel_h > p.in.h ? p.in.h - y0 : p.kernel_h;
    for (std::int32_t ox = 0; ox < p.out.w; ++ox) {
      const std::int32_t x0 = ox * p.stride_w - p.pad_left;
      const std::int32_t kx0 = x0 < 0 ? -x0 : 0;
      const std::int32_t kx1 = x0 + p.kernel_w > p.in.w ? p.in.w - x0 : p.kernel_w;
      std::int8_t* dst = out + (std::int64_t(oy) * p.out.w + ox) * c;
      for (std::int32_t ch = 0; ch < full; ch += 32) {
        __m256i best = _mm256_set1_epi8(-128);
        for (std::int32_t ky = ky0; ky < ky1; ++ky)
          for (std::int32_t kx = kx0; kx < kx1; ++kx)
            best = _mm256_max_epi8(best, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(
                                             in + (std::int64_t(y0 + ky) * p.in.w + x0 + kx) * c + ch)));
        best = _mm256_min_epi8(_mm256_max_epi8(best, lo), hi);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + ch), best);
      }
      std::int32_t ch = full;
      for (; ch + 16 <= c; ch += 16) {  // 16-channel tensors (VGG's first block) stay in SIMD
        __m128i best = _mm_set1_epi8(-128);
        for (std::int32_t ky = ky0; ky < ky1; ++ky)
          for (std::int32_t kx = kx0; kx < kx1; ++kx)
            best = _mm_max_epi8(best, _mm_loadu_si128(reinterpret_cast<const __m128i*>(
                                          in + (std::int64_t(y0 + ky) * p.in.w + x0 + kx) * c + ch)));
        best = _mm_min_epi8(_mm_max_epi8(best, _mm256_castsi256_si128(lo)), _mm256_castsi256_si128(hi));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + ch), best);
      }
      for (; ch < c; ++ch) {
        std::int32_t best = -128;
        for (std::int32_t ky = ky0; ky < ky1; ++ky)
          for (std::int32_t kx = kx0; kx < kx1; ++kx) {
            const std::int32_t v = in[(std::int64_t(y0 + ky) * p.in.w + x0 + kx) * c + ch];
            best = v > best ? v : best;
          }
        if (best < p.act_min) best = p.act_min;
        if (best > p.act_max) best = p.act_max;
        dst[ch] = std::int8_t(best);
      }
    }
  }
}

}  // namespace x86

// Called only once cpu_features() says the CPU runs this file's instructions (kernel_paths.cpp).
const KernelTable& avx2_kernel_table() {
  static const KernelTable table = [] {
    KernelTable t = packed_kernel_table("avx2", PackSpec{PackKind::Pair16, kLanes, 0}, &conv2d_s8_avx2,
                                        &fully_connected_s8_avx2, &fully_connected_s8_s32_avx2);
    t.max_pool_s8 = &x86::max_pool_s8_avx2;
    t.pool_dot_s8 = &x86::pool_dot_s8_avx2;
    t.pool_dot_s16 = &x86::pool_dot_s16_avx2;
    t.tile_images = 8;
    t.fully_connected_s8_tile = &fully_connected_s8_tile_avx2;
    t.fully_connected_s8_s32_tile = &fully_connected_s8_s32_tile_avx2;
    return t;
  }();
  return table;
}

}  // namespace fdal
