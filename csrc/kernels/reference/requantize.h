// requantize: int32 accumulator -> int8 with a Q31 multiplier and right shift, single rounding.
// acc: |acc| < 2^31; multiplier in [2^30, 2^31-1]; shift in [1, 62]; act range within [-128, 127].
// out = clamp(((int64(acc) * multiplier + 2^(shift-1)) >> shift) + zero_point, act_min, act_max).
#pragma once
#include <cstdint>

namespace fdal {
namespace reference {
// Internal linkage: the SIMD kernel files include this too, each compiled with its own ISA
// flags; a shared inline copy could reach the linker from one of them and run on any CPU.
namespace {

inline std::int8_t requantize(std::int32_t acc, std::int32_t multiplier, std::int32_t shift,
                              std::int32_t zero_point, std::int32_t act_min, std::int32_t act_max) {
  const std::int64_t product = std::int64_t(acc) * std::int64_t(multiplier);
  const std::int64_t rounding = std::int64_t(1) << (shift - 1);
  // >> on a negative int64 is an arithmetic shift (floor) in C++20 and on every compiler we target.
  std::int64_t t = ((product + rounding) >> shift) + zero_point;
  if (t < act_min) t = act_min;
  if (t > act_max) t = act_max;
  return static_cast<std::int8_t>(t);
}

}  // namespace
}  // namespace reference
}  // namespace fdal
