#include "kernels/input_lookup_contiguous.h"

#include "kernels/reference/reference_kernels.h"

namespace fdal {

namespace {

template <int C>
void lookup_rows(const std::uint8_t* pixels, std::int64_t stride_h, const TensorShape& shape,
                 const std::int8_t* lut, std::int8_t* out) {
  for (std::int32_t y = 0; y < shape.h; ++y) {
    const std::uint8_t* row = pixels + y * stride_h;
    for (std::int32_t x = 0; x < shape.w; ++x) {
      for (int ch = 0; ch < C; ++ch) out[ch] = lut[ch * 256 + row[ch]];
      row += C;
      out += C;
    }
  }
}

}  // namespace

void input_lookup_u8_contiguous(const std::uint8_t* pixels, std::int64_t stride_h,
                                std::int64_t stride_w, std::int64_t stride_c,
                                const TensorShape& shape, const std::int8_t* lut, std::int8_t* out) {
  if (stride_c == 1 && stride_w == shape.c) {
    if (shape.c == 3) return lookup_rows<3>(pixels, stride_h, shape, lut, out);
    if (shape.c == 1) return lookup_rows<1>(pixels, stride_h, shape, lut, out);
  }
  reference::input_lookup_u8(pixels, stride_h, stride_w, stride_c, shape, lut, out);
}

}  // namespace fdal
