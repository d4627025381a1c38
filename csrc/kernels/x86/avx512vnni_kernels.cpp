// AVX-512 VNNI kernels (compiled with -mavx512f -mavx512bw -mavx512vl -mavx512vnni, this file
// only). Output channels in the 16 int32 lanes; activations are u8 (x ^ 0x80) broadcast four at a
// time, weights the Dot4 layout; vpdpbusd accumulates without saturation, and the +128 offset is
// folded into packed_bias at load, so the int32 sums equal the reference's exactly.
// Requantization is the exact 64-bit formula: vpmuldq, add 2^(shift-1), vpsravq (arithmetic).
#include <immintrin.h>

#include <cstring>

#include "kernels/conv_geometry.h"
#include "kernels/relayout.h"
#include "kernels/x86/x86_kernels.h"

namespace fdal {
namespace {

constexpr int kLanes = 16;

inline __m512i broadcast4(const std::uint8_t* p) {
  std::int32_t v;
  std::memcpy(&v, p, 4);
  return _mm512_set1_epi32(v);
}

// 16 accumulators (bias included) of channels c0..c0+15 -> 16 int8. vpmovsqb saturates to
// [-128, 127], so clamping the bytes to [act_min, act_max] afterwards equals clamping t.
struct Requant16 {
  const std::int64_t* rq;
  std::int32_t oc_pad;
  const std::uint8_t* hi32;
  __m512i zp, zp32;  // the zero point not folded into the offsets (QuantWeights::requant_zp)
  __m128i lo, hi;
  Requant16(const OpParams& p, const QuantWeights& q)
      : rq(q.requant64), oc_pad(q.oc_pad), hi32(q.requant_hi32),
        zp(_mm512_set1_epi64(q.requant_zp)), zp32(_mm512_set1_epi32(q.requant_zp)),
        lo(_mm_set1_epi8(std::int8_t(p.act_min))), hi(_mm_set1_epi8(std::int8_t(p.act_max))) {}
  __m128i operator()(__m512i acc, std::int32_t c0) const {
    if (hi32 != nullptr) {  // every shift >= 32: 16 lanes in 32-bit after two multiplies
      const std::uint8_t* blk = hi32 + std::int64_t(c0) / 16 * 256;
      const __m512i m = _mm512_loadu_si512(blk);
      const __m512i even = _mm512_add_epi64(_mm512_mul_epi32(acc, m), _mm512_loadu_si512(blk + 64));
      const __m512i odd = _mm512_add_epi64(
          _mm512_mul_epi32(_mm512_srli_epi64(acc, 32), _mm512_srli_epi64(m, 32)),
          _mm512_loadu_si512(blk + 128));
      // High 32 bits of each 64-bit sum, back in channel order; then the rest of the shift.
      __m512i t = _mm512_mask_blend_epi32(__mmask16(0xAAAA), _mm512_srli_epi64(even, 32), odd);
      t = _mm512_add_epi32(_mm512_srav_epi32(t, _mm512_loadu_si512(blk + 192)), zp32);
      return _mm_min_epi8(_mm_max_epi8(_mm512_cvtsepi32_epi8(t), lo), hi);
    }
    const std::int64_t* mult = rq + c0;
    const std::int64_t* offset = rq + oc_pad + c0;
    const std::int64_t* shift = rq + 2 * std::int64_t(oc_pad) + c0;
    __m512i a = _mm512_cvtepi32_epi64(_mm512_castsi512_si256(acc));
    __m512i b = _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(acc, 1));
    a = _mm512_add_epi64(_mm512_mul_epi32(a, _mm512_loadu_si512(mult)), _mm512_loadu_si512(offset));
    b = _mm512_add_epi64(_mm512_mul_epi32(b, _mm512_loadu_si512(mult + 8)),
                         _mm512_loadu_si512(offset + 8));
    a = _mm512_add_epi64(_mm512_srav_epi64(a, _mm512_loadu_si512(shift)), zp);
    b = _mm512_add_epi64(_mm512_srav_epi64(b, _mm512_loadu_si512(shift + 8)), zp);
    const __m128i bytes = _mm_unpacklo_epi64(_mm512_cvtsepi64_epi8(a), _mm512_cvtsepi64_epi8(b));
    return _mm_min_epi8(_mm_max_epi8(bytes, lo), hi);
  }
};

// Masked byte stores are slow on some cores (Zen 4): plain stores for whole blocks.
inline void store16(std::int8_t* dst, __m128i v, std::int32_t c0, std::int32_t out_c) {
  if (out_c - c0 >= kLanes) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst), v);
  } else {
    _mm_mask_storeu_epi8(dst, __mmask16((1u << (out_c - c0)) - 1u), v);
  }
}

inline __mmask16 tail_mask(std::int32_t c0, std::int32_t out_c) {
  const std::int32_t n = out_c - c0;
  return n >= kLanes ? __mmask16(0xFFFF) : __mmask16((1u << n) - 1u);
}

using Geometry = ConvGeometry<std::uint8_t, std::int8_t>;  // padded u8 input, Dot4 weights

// P output pixels of one row (ox0 .. ox0+P-1) x NB blocks of 16 output channels. The pixels'
// windows are col_step bytes apart, so one pointer per tap serves all P of them.
template <int NB, int P>
inline void conv_tile(const Geometry& g, std::int32_t oy, std::int32_t ox0, std::int32_t b0,
                      __m512i acc[P][NB]) {
  const std::uint8_t* origin = g.act + std::int64_t(oy) * g.row_step + std::int64_t(ox0) * g.col_step;
  const std::int64_t cs = g.col_step;
  for (int p = 0; p < P; ++p)
    for (int j = 0; j < NB; ++j) acc[p][j] = _mm512_setzero_si512();
  const std::int8_t* wb = g.weights + b0 * g.block_stride;
  const std::int32_t groups_per_tap = g.cpad / 4;
  for (std::int32_t t = 0; t < g.taps; ++t) {
    const std::uint8_t* a = origin + g.tap_offset[t];
    const std::int8_t* wt = wb + std::int64_t(t) * groups_per_tap * 64;
    for (std::int32_t q = 0; q < groups_per_tap; ++q, a += 4, wt += 64) {
      __m512i w[NB];
      for (int j = 0; j < NB; ++j) w[j] = _mm512_loadu_si512(wt + j * g.block_stride);
      for (int p = 0; p < P; ++p) {
        const __m512i x = broadcast4(a + p * cs);
        for (int j = 0; j < NB; ++j) acc[p][j] = _mm512_dpbusd_epi32(acc[p][j], x, w[j]);
      }
    }
  }
}

template <int NB, int P>
void conv_pixels(const OpParams& p, const QuantWeights& q, const Geometry& g, std::int32_t oy,
                 std::int32_t ox0, std::int32_t b0, std::int8_t* out) {
  __m512i acc[P][NB];
  conv_tile<NB, P>(g, oy, ox0, b0, acc);
  const Requant16 requantize16(p, q);
  std::int8_t* row = out + (std::int64_t(oy) * p.out.w + ox0) * p.out.c;
  for (int j = 0; j < NB; ++j) {
    const std::int32_t c0 = (b0 + j) * kLanes;
    const __m512i bias = _mm512_loadu_si512(q.packed_bias + c0);
    for (int i = 0; i < P; ++i) {
      const __m128i v = requantize16(_mm512_add_epi32(acc[i][j], bias), c0);
      store16(row + std::int64_t(i) * p.out.c + c0, v, c0, p.out.c);
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

// relayout_conv_input_s8 for RGB inputs (c 3 -> 4, x ^ 0x80): the border and padding bytes
// come from the portable version's rule, interior rows are expanded four pixels per pshufb.
void relayout_rgb_u8(const OpParams& p, const std::int8_t* in, std::uint8_t* dst) {
  const std::int32_t wp = p.in.w + p.pad_left + p.pad_right;
  const std::int32_t hp = p.in.h + p.pad_top + p.pad_bottom;
  const std::uint32_t border = (std::uint32_t(std::uint8_t(p.in_zero_point ^ 0x80)) * 0x010101u);
  const __m128i expand = _mm_setr_epi8(0, 1, 2, -1, 3, 4, 5, -1, 6, 7, 8, -1, 9, 10, 11, -1);
  const __m128i flip = _mm_setr_epi8(-128, -128, -128, 0, -128, -128, -128, 0, -128, -128, -128, 0,
                                     -128, -128, -128, 0);
  for (std::int32_t y = 0; y < hp; ++y) {
    std::uint8_t* row = dst + std::int64_t(y) * wp * 4;
    const std::int32_t iy = y - p.pad_top;
    if (iy < 0 || iy >= p.in.h) {
      for (std::int32_t x = 0; x < wp; ++x) std::memcpy(row + 4 * x, &border, 4);
      continue;
    }
    for (std::int32_t x = 0; x < p.pad_left; ++x) std::memcpy(row + 4 * x, &border, 4);
    for (std::int32_t x = p.pad_left + p.in.w; x < wp; ++x) std::memcpy(row + 4 * x, &border, 4);
    const std::uint8_t* src = reinterpret_cast<const std::uint8_t*>(in) + std::int64_t(iy) * p.in.w * 3;
    std::uint8_t* px = row + 4 * p.pad_left;
    std::int32_t x = 0;
    // 16-byte loads read 12 bytes of pixels: stop while 16 bytes remain inside the row's source.
    for (; x + 6 <= p.in.w; x += 4) {
      const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + 3 * x));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(px + 4 * x), _mm_xor_si128(_mm_shuffle_epi8(v, expand), flip));
    }
    for (; x < p.in.w; ++x) {
      const std::uint32_t word = (std::uint32_t(src[3 * x]) | std::uint32_t(src[3 * x + 1]) << 8 |
                                  std::uint32_t(src[3 * x + 2]) << 16) ^ 0x808080u;
      std::memcpy(px + 4 * x, &word, 4);
    }
  }
}

void conv2d_s8_vnni(const OpParams& p, const QuantWeights& q, const std::int8_t* in,
                    std::int8_t* out, std::uint8_t* scratch) {
  const std::int32_t cpad = std::int32_t(round_up(p.in.c, 4));
  if (p.in.c == 3) {
    relayout_rgb_u8(p, in, scratch);
  } else {
    relayout_conv_input_s8(p, in, cpad, 0x80, scratch);
  }
  Geometry g;
  fill_conv_geometry(p, q, cpad, kLanes, scratch, &g);
  const std::int32_t blocks = q.oc_pad / kLanes;
  std::int32_t b0 = 0;
  for (; b0 + 4 <= blocks; b0 += 4) conv_blocks<4, 4>(p, q, g, b0, out);
  switch (blocks - b0) {
    case 3: conv_blocks<3, 5>(p, q, g, b0, out); break;
    case 2: conv_blocks<2, 8>(p, q, g, b0, out); break;
    case 1:
      if (p.out.w >= 16) {
        conv_blocks<1, 16>(p, q, g, b0, out);
      } else {
        conv_blocks<1, 8>(p, q, g, b0, out);
      }
      break;
    default: break;
  }
}

// Fully connected: NB blocks of 16 outputs at a time over the Kp/4 groups of the input vector.
template <int NB>
void fc_blocks(const std::uint8_t* act, const std::int8_t* weights, std::int64_t groups,
               const std::int32_t* bias, std::int32_t b0, __m512i acc[NB]) {
  const std::int64_t stride = groups * 64;
  const std::int8_t* wb = weights + b0 * stride;
  for (int j = 0; j < NB; ++j) acc[j] = _mm512_loadu_si512(bias + (b0 + j) * kLanes);
  for (std::int64_t g = 0; g < groups; ++g) {
    const __m512i x = broadcast4(act + 4 * g);
    for (int j = 0; j < NB; ++j)
      acc[j] = _mm512_dpbusd_epi32(acc[j], x, _mm512_loadu_si512(wb + j * stride + g * 64));
  }
}

template <int NB, typename Store>
void fc_run(const std::uint8_t* act, const QuantWeights& q, std::int64_t groups, std::int32_t b0,
            Store store) {
  __m512i acc[NB];
  fc_blocks<NB>(act, static_cast<const std::int8_t*>(q.packed), groups, q.packed_bias, b0, acc);
  for (int j = 0; j < NB; ++j) store((b0 + j) * kLanes, acc[j]);
}

template <typename Store>
void fc_all(const std::uint8_t* act, const QuantWeights& q, std::int64_t groups, Store store) {
  const std::int32_t blocks = q.oc_pad / kLanes;
  std::int32_t b0 = 0;
  for (; b0 + 8 <= blocks; b0 += 8) fc_run<8>(act, q, groups, b0, store);
  for (; b0 + 4 <= blocks; b0 += 4) fc_run<4>(act, q, groups, b0, store);
  for (; b0 < blocks; ++b0) fc_run<1>(act, q, groups, b0, store);
}

void fully_connected_s8_vnni(const OpParams& p, const QuantWeights& q, const std::int8_t* in,
                             std::int8_t* out, std::uint8_t* scratch) {
  const std::int64_t k = p.in.elements(), kp = round_up(k, 4);
  relayout_fc_input_s8(k, in, kp, 0x80, scratch);
  const Requant16 requantize16(p, q);
  fc_all(scratch, q, kp / 4, [&](std::int32_t c0, __m512i acc) {
    const __m128i v = requantize16(acc, c0);
    store16(out + c0, v, c0, p.out.c);
  });
}

void fully_connected_s8_s32_vnni(const OpParams& p, const QuantWeights& q, const std::int8_t* in,
                                 std::int32_t* out, std::uint8_t* scratch) {
  const std::int64_t k = p.in.elements(), kp = round_up(k, 4);
  relayout_fc_input_s8(k, in, kp, 0x80, scratch);
  fc_all(scratch, q, kp / 4, [&](std::int32_t c0, __m512i acc) {
    _mm512_mask_storeu_epi32(out + c0, tail_mask(c0, p.out.c), acc);
  });
}

// A fully connected layer over NI images at once (NI x NB accumulators): each weight vector is
// loaded once for the NI images. act: NI input rows of `row` bytes in the scratch.
template <int NI, int NB, typename Store>
void fc_tile_run(const std::uint8_t* act, std::int64_t row, const QuantWeights& q,
                 std::int64_t groups, std::int32_t b0, Store store) {
  const std::int64_t stride = groups * 64;
  const std::int8_t* wb = static_cast<const std::int8_t*>(q.packed) + b0 * stride;
  __m512i acc[NI][NB];
  for (int j = 0; j < NB; ++j) {
    const __m512i bias = _mm512_loadu_si512(q.packed_bias + (b0 + j) * kLanes);
    for (int i = 0; i < NI; ++i) acc[i][j] = bias;
  }
  for (std::int64_t g = 0; g < groups; ++g) {
    __m512i w[NB];
    for (int j = 0; j < NB; ++j) w[j] = _mm512_loadu_si512(wb + j * stride + g * 64);
    for (int i = 0; i < NI; ++i) {
      const __m512i x = broadcast4(act + i * row + 4 * g);
      for (int j = 0; j < NB; ++j) acc[i][j] = _mm512_dpbusd_epi32(acc[i][j], x, w[j]);
    }
  }
  for (int i = 0; i < NI; ++i)
    for (int j = 0; j < NB; ++j) store(i, (b0 + j) * kLanes, acc[i][j]);
}

template <int NI, typename Store>
void fc_tile_images(const std::uint8_t* act, std::int64_t row, const QuantWeights& q,
                    std::int64_t groups, Store store) {
  const std::int32_t blocks = q.oc_pad / kLanes;
  std::int32_t b0 = 0;
  for (; b0 + 4 <= blocks; b0 += 4) fc_tile_run<NI, 4>(act, row, q, groups, b0, store);
  for (; b0 < blocks; ++b0) fc_tile_run<NI, 1>(act, row, q, groups, b0, store);
}

// Relayouts the n inputs (stride bytes apart) into scratch rows, then runs the images four at a time.
template <typename Store>
void fc_tile(const OpParams& p, const QuantWeights& q, const std::int8_t* in, std::int64_t stride,
             std::int32_t n, std::uint8_t* scratch, Store store) {
  const std::int64_t k = p.in.elements(), kp = round_up(k, 4), row = round_up(kp, 64);
  for (std::int32_t i = 0; i < n; ++i) relayout_fc_input_s8(k, in + i * stride, kp, 0x80, scratch + i * row);
  std::int32_t i0 = 0;
  for (; i0 + 4 <= n; i0 += 4) {
    fc_tile_images<4>(scratch + i0 * row, row, q, kp / 4,
                      [&](int i, std::int32_t c0, __m512i acc) { store(i0 + i, c0, acc); });
  }
  for (; i0 < n; ++i0) {
    fc_tile_images<1>(scratch + i0 * row, row, q, kp / 4,
                      [&](int, std::int32_t c0, __m512i acc) { store(i0, c0, acc); });
  }
}

void fully_connected_s8_tile_vnni(const OpParams& p, const QuantWeights& q, const std::int8_t* in,
                                  std::int8_t* out, std::int64_t stride, std::int32_t n,
                                  std::uint8_t* scratch) {
  const Requant16 requantize16(p, q);
  fc_tile(p, q, in, stride, n, scratch, [&](std::int32_t i, std::int32_t c0, __m512i acc) {
    store16(out + i * stride + c0, requantize16(acc, c0), c0, p.out.c);
  });
}

void fully_connected_s8_s32_tile_vnni(const OpParams& p, const QuantWeights& q,
                                      const std::int8_t* in, std::int8_t* out, std::int64_t stride,
                                      std::int32_t n, std::uint8_t* scratch) {
  fc_tile(p, q, in, stride, n, scratch, [&](std::int32_t i, std::int32_t c0, __m512i acc) {
    // The arena offsets are 64-byte aligned, so the int32 view is aligned.
    _mm512_mask_storeu_epi32(reinterpret_cast<std::int32_t*>(out + i * stride) + c0,
                             tail_mask(c0, p.out.c), acc);
  });
}

}  // namespace

// Called only once cpu_features() says the CPU runs this file's instructions (kernel_paths.cpp).
const KernelTable& avx512vnni_kernel_table() {
  static const KernelTable table = [] {
    KernelTable t = packed_kernel_table("avx512vnni", PackSpec{PackKind::Dot4, kLanes, 128}, &conv2d_s8_vnni,
                                        &fully_connected_s8_vnni, &fully_connected_s8_s32_vnni);
    t.max_pool_s8 = &x86::max_pool_s8_avx2;
    t.pool_dot_s8 = &x86::pool_dot_s8_avx2;
    t.pool_dot_s16 = &x86::pool_dot_s16_avx2;
    t.tile_images = 8;
    t.fully_connected_s8_tile = &fully_connected_s8_tile_vnni;
    t.fully_connected_s8_s32_tile = &fully_connected_s8_s32_tile_vnni;
    return t;
  }();
  return table;
}

}  // namespace fdal
