// The reference table: every slot a kernel of kernels/reference, the base every other path's
// table starts from. Weights stay unpacked (PackKind::None).
#include "kernels/kernel_table.h"
#include "kernels/reference/reference_kernels.h"

namespace fdal {

const KernelTable& reference_kernel_table() {
  static const KernelTable table = [] {
    KernelTable t{};
    t.name = "reference";
    t.pack = PackSpec{};
    t.input_lookup_u8 = &reference::input_lookup_u8;
    t.conv2d_s8 = &ignoring_scratch<std::int8_t, &reference::conv2d_s8>;
    t.fully_connected_s8 = &ignoring_scratch<std::int8_t, &reference::fully_connected_s8>;
    t.fully_connected_s8_s32 = &ignoring_scratch<std::int32_t, &reference::fully_connected_s8_s32>;
    t.max_pool_s8 = &reference::max_pool_s8;
    t.avg_pool_s8 = &reference::avg_pool_s8;
    t.relu_s8 = &reference::relu_s8;
    t.upsample_nearest_s8 = &reference::upsample_nearest_s8;
    t.copy_s8 = &reference::copy_s8;
    t.pool_dot_s8 = &reference::pool_dot_s8;
    t.pool_dot_s16 = &reference::pool_dot_s16;
    t.tile_images = 1;  // no tile kernels
    t.fully_connected_s8_tile = nullptr;
    t.fully_connected_s8_s32_tile = nullptr;
    return t;
  }();
  return table;
}

}  // namespace fdal
