// copy_s8: FLATTEN. in (h, w, c) int8 NHWC -> out (1, 1, h*w*c) int8, same memory order.
// Scale and zero point unchanged; a plain copy of in.elements() bytes.
// (Kept as a kernel so an optimized path could alias instead of copying.)
#include <cstring>

#include "kernels/reference/reference_kernels.h"

namespace fdal {
namespace reference {

void copy_s8(const OpParams& p, const std::int8_t* in, std::int8_t* out) {
  std::memcpy(out, in, std::size_t(p.in.elements()));
}

}  // namespace reference
}  // namespace fdal
