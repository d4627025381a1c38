#include "kernels/conv_geometry.h"

namespace fdal {

void fill_conv_shape(const OpParams& p, std::int32_t cpad, std::int32_t lanes, ConvShape* shape) {
  const std::int32_t wp = p.in.w + p.pad_left + p.pad_right;
  for (std::int32_t ky = 0; ky < p.kernel_h; ++ky)
    for (std::int32_t kx = 0; kx < p.kernel_w; ++kx)
      shape->tap_offset[ky * p.kernel_w + kx] = (ky * wp + kx) * cpad;
  shape->taps = p.kernel_h * p.kernel_w;
  shape->cpad = cpad;
  shape->block_stride = std::int64_t(shape->taps) * cpad * lanes;
  shape->ow = p.out.w;
  shape->row_step = p.stride_h * wp * cpad;
  shape->col_step = p.stride_w * cpad;
}

}  // namespace fdal
