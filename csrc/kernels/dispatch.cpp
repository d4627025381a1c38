// Kernel selection: CPU feature detection (cpuid on x86, HWCAP on ARM) picks a table once per
// model load. Only the reference table exists so far; optimized tables register here.
#include <cstdlib>
#include <stdexcept>
#include <string>

#include "kernels/kernel_table.h"
#include "kernels/reference/reference_kernels.h"

namespace fdal {

const KernelTable& reference_kernel_table() {
  static const KernelTable table = {
      "reference",
      &reference::input_lookup_u8,
      &reference::conv2d_s8,
      &reference::fully_connected_s8,
      &reference::fully_connected_s8_s32,
      &reference::max_pool_s8,
      &reference::avg_pool_s8,
      &reference::relu_s8,
      &reference::upsample_nearest_s8,
      &reference::copy_s8,
  };
  return table;
}

namespace {

// The fastest table the running CPU supports. Optimized paths go here, e.g.
//   if (cpu_has_avx512vnni()) return avx512vnni_kernel_table();
const KernelTable& best_kernel_table_for_cpu() { return reference_kernel_table(); }

}  // namespace

const KernelTable& select_kernel_table() {
  const char* forced = std::getenv("FDAL_KERNELS");
  if (forced == nullptr || forced[0] == '\0' || std::string(forced) == "auto") {
    return best_kernel_table_for_cpu();
  }
  const std::string name(forced);
  if (name == "reference") return reference_kernel_table();
  throw std::invalid_argument("FDAL_KERNELS=" + name +
                              " is not a kernel path of this build (known: auto, reference)");
}

}  // namespace fdal
