// input_lookup_u8: raw pixels (h, w, c) uint8 with any byte strides -> int8 tensor (h, w, c) NHWC.
// lut: c * 256 int8, q = lut[ch * 256 + pixel]; strides may be negative or zero (numpy views).
// out: contiguous, shape.elements() bytes.
#include "kernels/reference/reference_kernels.h"

namespace fdal {
namespace reference {

void input_lookup_u8(const std::uint8_t* pixels, std::int64_t stride_h, std::int64_t stride_w,
                     std::int64_t stride_c, const TensorShape& shape, const std::int8_t* lut,
                     std::int8_t* out) {
  for (std::int32_t y = 0; y < shape.h; ++y) {
    for (std::int32_t x = 0; x < shape.w; ++x) {
      const std::uint8_t* px = pixels + y * stride_h + x * stride_w;
      for (std::int32_t ch = 0; ch < shape.c; ++ch) {
        *out++ = lut[ch * 256 + px[ch * stride_c]];
      }
    }
  }
}

}  // namespace reference
}  // namespace fdal
