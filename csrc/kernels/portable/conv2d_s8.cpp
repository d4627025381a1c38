// portable::conv2d_s8, bit-exact to reference::conv2d_s8 (no intrinsics: any C++17 compiler).
// conv2d_s8: in (in_h, in_w, in_c) int8 NHWC, weights [out_c][kh][kw][in_c] int8 in [-127, 127],
// bias int32[out_c], per-channel multiplier/shift; out (out_h, out_w, out_c) int8 NHWC.
// Any kernel 1..15, stride 1..15, padding < kernel; taps outside the input read in_zero_point.
#include <algorithm>

#include "kernels/portable/portable_kernels.h"
#include "kernels/reference/reference_kernels.h"
#include "kernels/reference/requantize.h"

namespace fdal {
namespace portable {

using reference::requantize;  // the one rounding rule (docs/quantization.md)
namespace {

// Why this shape: every output value is one dot product of an OHWI weight row with the
// receptive field, in int16 in the scratch, padded with zeros to whole blocks of 16 taps: the
// weights once per block of output channels (amortized over all pixels), the field once per
// pixel, two pixels per pass over a weight row. In NHWC the kw*in_c taps of a kernel row are
// contiguous, so per output row the kh input rows it reads are converted once to
// x - in_zero_point in a "band" with zero columns (and rows) for the padding -- borders need no
// special case -- and each pixel's field is kh block copies out of the band. A block copy may run
// past its kernel row; the next row's copy overwrites the excess, and past the last row it meets
// zero weights. The dot of whole blocks has no scalar tail and compilers turn it into
// multiply-add-pairs (pmaddwd, smlal) at the default target. The int32 sums are exact
// (docs/quantization.md), so the order does not change the result. The buffers live in the
// workspace's scratch, sized per layer at load (a microcontroller's stack is small).
constexpr std::int32_t kBlock = 16;
constexpr std::int32_t kMaxTaps = 2048;       // receptive field (int16)
constexpr std::int32_t kBandValues = 8192;    // kh padded input rows (int16)
constexpr std::int32_t kWeightTaps = 16384;   // weights of one block of output channels (int16)

// The int16 buffers of one layer, in values; zero when it runs reference::conv2d_s8.
struct Buffers {
  std::int32_t field = 0;    // per pixel of a pair
  std::int32_t band = 0;     // kh padded input rows
  std::int32_t weights = 0;  // one block of output channels
  std::int32_t oc_block = 0;
};

std::int64_t round16(std::int64_t values) { return (values + 7) / 8 * 8; }  // int16 values -> 16 bytes

Buffers buffers_of(const OpParams& p) {
  const std::int32_t in_c = p.in.c, kh = p.kernel_h, row = p.kernel_w * in_c;
  const std::int32_t row_pad = (row + kBlock - 1) / kBlock * kBlock;
  const std::int32_t taps = kh * row, padded = (taps + kBlock - 1) / kBlock * kBlock;
  // A band row: the padded input row plus slack for the last window's whole-block copy.
  const std::int64_t band_w64 = std::int64_t(p.pad_left + p.in.w + p.pad_right) * in_c + row_pad;
  Buffers b;
  if ((kh - 1) * row + row_pad > kMaxTaps || padded > kMaxTaps || kh * band_w64 > kBandValues) return b;
  b.field = std::max((kh - 1) * row + row_pad, padded);  // the last row's copy may run past `padded`
  b.band = std::int32_t(kh * band_w64);
  b.oc_block = std::min(p.out.c, kWeightTaps / padded);
  b.weights = b.oc_block * padded;
  return b;
}

// Two outputs at once (two fields, one weight row): each weight block is loaded once.
void dot_blocks2(const std::int16_t* w, const std::int16_t* a, const std::int16_t* b,
                 std::int32_t n, std::int32_t& sum_a, std::int32_t& sum_b) {
  std::int32_t sa = 0, sb = 0;
  for (std::int32_t i = 0; i < n; i += kBlock) {
    for (std::int32_t j = 0; j < kBlock; ++j) {
      sa += std::int32_t(w[i + j]) * a[i + j];
      sb += std::int32_t(w[i + j]) * b[i + j];
    }
  }
  sum_a = sa;
  sum_b = sb;
}

}  // namespace

std::int64_t conv2d_s8_scratch_bytes(const OpParams& p) {
  const Buffers b = buffers_of(p);
  if (b.field == 0) return 0;
  return 2 * (2 * round16(b.field) + round16(b.band) + round16(b.weights));
}

void conv2d_s8(const OpParams& params, const QuantWeights& quant, const std::int8_t* in,
               std::int8_t* out, std::uint8_t* scratch) {
  // Local copies: int8 stores may alias anything, so fields behind a reference would be
  // reloaded after every output byte; locals whose address is not taken are not.
  const OpParams p = params;
  const QuantWeights q = quant;
  const Buffers b = buffers_of(p);
  if (b.field == 0) return reference::conv2d_s8(p, q, in, out);  // the direct loops need no buffers
  const std::int32_t in_c = p.in.c, kh = p.kernel_h, row = p.kernel_w * in_c;
  const std::int32_t row_pad = (row + kBlock - 1) / kBlock * kBlock;
  const std::int32_t taps = kh * row, padded = (taps + kBlock - 1) / kBlock * kBlock;
  const std::int32_t band_w = b.band / kh, valid = p.in.w * in_c;
  // scratch: field[0], field[1], band, weights (int16, each 16-byte aligned).
  std::int16_t* const field[2] = {reinterpret_cast<std::int16_t*>(scratch),
                                  reinterpret_cast<std::int16_t*>(scratch) + round16(b.field)};
  std::int16_t* const band = field[1] + round16(b.field);
  std::int16_t* const weights = band + round16(b.band);
  for (std::int32_t i = 0; i < b.field; ++i) field[0][i] = field[1][i] = 0;  // past the last row's copy: 0
  const std::int32_t oc_block = b.oc_block;
  for (std::int32_t oc0 = 0; oc0 < p.out.c; oc0 += oc_block) {
    const std::int32_t oc_n = std::min(oc_block, p.out.c - oc0);
    for (std::int32_t oc = 0; oc < oc_n; ++oc) {
      const std::int8_t* w = q.weights + std::int64_t(oc0 + oc) * taps;
      std::int16_t* dst = weights + oc * padded;
      for (std::int32_t i = 0; i < taps; ++i) dst[i] = w[i];
      for (std::int32_t i = taps; i < padded; ++i) dst[i] = 0;
    }
    for (std::int32_t oy = 0; oy < p.out.h; ++oy) {
      for (std::int32_t ky = 0; ky < kh; ++ky) {
        std::int16_t* dst = band + ky * band_w;
        for (std::int32_t i = 0; i < band_w; ++i) dst[i] = 0;
        const std::int32_t y = oy * p.stride_h - p.pad_top + ky;
        if (y < 0 || y >= p.in.h) continue;  // padded row
        const std::int8_t* src = in + std::int64_t(y) * valid;
        dst += p.pad_left * in_c;
        for (std::int32_t i = 0; i < valid; ++i) dst[i] = std::int16_t(src[i] - p.in_zero_point);
      }
      // Pixels in pairs (the last pair of an odd row repeats its pixel and writes it twice).
      for (std::int32_t ox = 0; ox < p.out.w; ox += 2) {
        const std::int32_t pair[2] = {ox, std::min(ox + 1, p.out.w - 1)};
        for (std::int32_t k = 0; k < 2; ++k) {
          const std::int16_t* window = band + pair[k] * p.stride_w * in_c;
          for (std::int32_t ky = 0; ky < kh; ++ky) {
            std::int16_t* dst = field[k] + ky * row;
            const std::int16_t* src = window + ky * band_w;
            for (std::int32_t i = 0; i < row_pad; i += kBlock) {
              for (std::int32_t j = 0; j < kBlock; ++j) dst[i + j] = src[i + j];
            }
          }
        }
        std::int8_t* o0 = out + (std::int64_t(oy) * p.out.w + pair[0]) * p.out.c + oc0;
        std::int8_t* o1 = out + (std::int64_t(oy) * p.out.w + pair[1]) * p.out.c + oc0;
        for (std::int32_t oc = 0; oc < oc_n; ++oc) {
          std::int32_t acc0, acc1;
          dot_blocks2(weights + oc * padded, field[0], field[1], padded, acc0, acc1);
          const std::int32_t bias = q.bias[oc0 + oc], m = q.multiplier[oc0 + oc];
          const std::int32_t sh = q.shift[oc0 + oc];
          o0[oc] = requantize(bias + acc0, m, sh, p.out_zero_point, p.act_min, p.act_max);
          o1[oc] = requantize(bias + acc1, m, sh, p.out_zero_point, p.act_min, p.act_max);
        }
      }
    }
  }
}

}  // namespace portable
}  // namespace fdal
