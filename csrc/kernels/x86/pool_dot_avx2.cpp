// AVX2 int8 dot products for the pool selection rules (compiled with -mavx2, this file only;
// the avx2 and avx512vnni tables' pool_dot slots, run only where cpu_features().avx2). Tiles of 2 x 4 rows: per 16 values of depth, 6 loads
// (int8 rows widened to int16 by vpmovsxbw; int16 blocks as they are) and 8 vpmaddwd (two products of at most 2^14 each per int32 lane:
// no saturation), 8 int32 adds.
// Bit-exact to reference::pool_dot_s8 / pool_dot_s16: integer sums do not depend on their order.
#include <immintrin.h>

#include "kernels/x86/x86_kernels.h"

namespace fdal {
namespace x86 {
namespace {

inline std::int32_t hsum(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
  return _mm_cvtsi128_si32(s);
}

inline __m256i load(const std::int8_t* p) {  // 16 int8 -> 16 int16
  return _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

inline __m256i ld(const std::int8_t* p) { return load(p); }
inline __m256i ld(const std::int16_t* p) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
}

// R rows of a against C rows of b, depth `stride` (a multiple of 16); T is int8 (widened on
// load) or int16.
template <int R, int C, typename T>
inline void tile(const T* const* a, const T* const* b, std::int64_t stride,
                 std::int32_t* out, std::int32_t ldo) {
  __m256i acc[R][C];
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) acc[r][c] = _mm256_setzero_si256();
  for (std::int64_t t = 0; t < stride; t += 16) {
    __m256i bv[C];
    for (int c = 0; c < C; ++c) bv[c] = ld(b[c] + t);
    for (int r = 0; r < R; ++r) {
      const __m256i av = ld(a[r] + t);
      for (int c = 0; c < C; ++c) acc[r][c] = _mm256_add_epi32(acc[r][c], _mm256_madd_epi16(av, bv[c]));
    }
  }
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) out[r * ldo + c] = hsum(acc[r][c]);
}

// out[a * nb + b] for a < na, b < nb, row pointers from row_a(a) and row_b(b).
template <typename T, typename RowA, typename RowB>
void tiles(std::int32_t na, std::int32_t nb, std::int64_t stride, RowA row_a, RowB row_b, std::int32_t* out) {
  for (std::int32_t a = 0; a < na; a += 2) {
    const int ra = na - a >= 2 ? 2 : 1;
    const T* ap[2] = {row_a(a), row_a(a + ra - 1)};
    std::int32_t b = 0;
    for (; b + 4 <= nb; b += 4) {
      const T* bp[4] = {row_b(b), row_b(b + 1), row_b(b + 2), row_b(b + 3)};
      if (ra == 2) tile<2, 4>(ap, bp, stride, out + std::int64_t(a) * nb + b, nb);
      else tile<1, 4>(ap, bp, stride, out + std::int64_t(a) * nb + b, nb);
    }
    for (; b < nb; ++b) {
      const T* bp[1] = {row_b(b)};
      if (ra == 2) tile<2, 1>(ap, bp, stride, out + std::int64_t(a) * nb + b, nb);
      else tile<1, 1>(ap, bp, stride, out + std::int64_t(a) * nb + b, nb);
    }
  }
}

}  // namespace

void pool_dot_s8_avx2(const std::int8_t* rows, std::int64_t stride, const std::int32_t* ia,
                      std::int32_t na, const std::int32_t* ib, std::int32_t nb, std::int32_t* out) {
  tiles<std::int8_t>(na, nb, stride, [&](std::int32_t a) { return rows + std::int64_t(ia[a]) * stride; },
                     [&](std::int32_t b) { return rows + std::int64_t(ib[b]) * stride; }, out);
}

void pool_dot_s16_avx2(const std::int16_t* a16, std::int32_t na, const std::int16_t* b16,
                       std::int32_t nb, std::int64_t stride, std::int32_t* out) {
  tiles<std::int16_t>(na, nb, stride, [&](std::int32_t a) { return a16 + std::int64_t(a) * stride; },
                      [&](std::int32_t b) { return b16 + std::int64_t(b) * stride; }, out);
}

}  // namespace x86
}  // namespace fdal
