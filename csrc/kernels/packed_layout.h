// Packed weight layouts of the optimized kernels, prepared once at load (model/pack_weights.cpp).
// The reduction index k runs over taps (ky, kx) and, inside a tap, over the input channels padded
// to a multiple of the group g (FC: one tap of K values). Padded weights are zero.
//   Dot4   int8  [oc/L][Kp/4][L][4]  u8 x s8 (VNNI, act = x ^ 0x80) or s8 x s8 (SDOT, act = x);
//          the bias folds the correction: bias - (offset + in_zp) * sum_k w  (offset 128 or 0)
//   Pair16 int16 [oc/L][Kp/2][L][2]  act = x - in_zp as int16 (AVX2 vpmaddwd), bias unchanged
//   Lane16 int16 [oc/L][Kp][L]       act = x - in_zp as int16 (NEON vmlal), bias unchanged
// Activations are copied into the kernel's scratch in the same order, with the padding taps
// holding the value that contributes nothing after the fold.
#pragma once
#include <cstdint>

namespace fdal {

enum class PackKind : std::uint8_t { None = 0, Dot4 = 1, Pair16 = 2, Lane16 = 3 };

struct PackSpec {
  PackKind kind = PackKind::None;
  std::int32_t lanes = 0;       // output channels per block L
  std::int32_t act_offset = 0;  // Dot4: 128 (u8 activations) or 0 (s8)
};

// Internal linkage: included by the SIMD kernel files, each compiled with its own ISA flags.
namespace {
inline std::int32_t pack_group(PackKind kind) {
  return kind == PackKind::Dot4 ? 4 : kind == PackKind::Pair16 ? 2 : 1;
}
inline std::int32_t pack_elem_bytes(PackKind kind) { return kind == PackKind::Dot4 ? 1 : 2; }
inline std::int64_t round_up(std::int64_t v, std::int64_t m) { return (v + m - 1) / m * m; }
}  // namespace

}  // namespace fdal
