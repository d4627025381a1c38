#include "kernels/input_lookup_contiguous.h"
#include "kernels/kernel_table.h"

namespace fdal {

KernelTable packed_kernel_table(const char* name, PackSpec pack, LayerKernelS8 conv2d_s8,
                                LayerKernelS8 fully_connected_s8,
                                LayerKernelS32 fully_connected_s8_s32) {
  KernelTable t = reference_kernel_table();
  t.name = name;
  t.pack = pack;
  t.input_lookup_u8 = &input_lookup_u8_contiguous;
  t.conv2d_s8 = conv2d_s8;
  t.fully_connected_s8 = fully_connected_s8;
  t.fully_connected_s8_s32 = fully_connected_s8_s32;
  return t;
}

}  // namespace fdal
