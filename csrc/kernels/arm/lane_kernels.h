// The scalar ends of the two NEON files' kernels (window origins, exact requantization of the
// int32 lane sums, the loop over pixels and channel blocks). Internal linkage: each file compiles
// its own copy with its own ISA flags, so no copy built for SDOT can serve the plain NEON path.
#pragma once
#include <cstdint>
#include <type_traits>

#include "kernels/conv_geometry.h"
#include "kernels/kernel_params.h"
#include "kernels/reference/requantize.h"

namespace fdal {
namespace {

// Offsets from the padded input to the windows of output pixels pix .. pix+P-1 (row-major).
template <int P>
inline void window_origins(const ConvShape& g, std::int32_t pix, std::int64_t origin[P]) {
  std::int32_t oy = pix / g.ow, ox = pix % g.ow;
  for (int i = 0; i < P; ++i) {
    origin[i] = std::int64_t(oy) * g.row_step + std::int64_t(ox) * g.col_step;
    if (++ox == g.ow) ox = 0, ++oy;
  }
}

// out[c] = requantize(acc) with channel c's multiplier and shift (the reference formula).
struct StoreRequantized {
  const OpParams& p;
  const QuantWeights& q;
  std::int8_t* out;
  void operator()(std::int32_t c, std::int32_t acc) const {
    out[c] = reference::requantize(acc, q.multiplier[c], q.shift[c], p.out_zero_point, p.act_min,
                                   p.act_max);
  }
};

// Every block b of output channels, P pixels at a time, then the last pixels one by one:
// pixels(pix, b, std::integral_constant<int, n>{}) for n = P or 1.
template <int P, typename Pixels>
inline void for_each_pixel_run(const OpParams& p, std::int32_t blocks, Pixels pixels) {
  const std::int32_t npix = p.out.h * p.out.w;
  for (std::int32_t b = 0; b < blocks; ++b) {
    std::int32_t pix = 0;
    for (; pix + P <= npix; pix += P) pixels(pix, b, std::integral_constant<int, P>{});
    for (; pix < npix; ++pix) pixels(pix, b, std::integral_constant<int, 1>{});
  }
}

}  // namespace
}  // namespace fdal
