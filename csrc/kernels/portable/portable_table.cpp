// The portable table: the reference table with the blocked conv / fully connected kernels.
// Weights stay unpacked (PackKind::None).
#include "kernels/portable/portable_kernels.h"

namespace fdal {

const KernelTable& portable_kernel_table() {
  static const KernelTable table = [] {
    KernelTable t = reference_kernel_table();
    t.name = "portable";
    t.conv2d_s8 = &portable::conv2d_s8;
    t.conv2d_s8_scratch_bytes = &portable::conv2d_s8_scratch_bytes;
    t.fully_connected_s8 = &ignoring_scratch<std::int8_t, &portable::fully_connected_s8>;
    t.fully_connected_s8_s32 = &ignoring_scratch<std::int32_t, &portable::fully_connected_s8_s32>;
    return t;
  }();
  return table;
}

}  // namespace fdal
