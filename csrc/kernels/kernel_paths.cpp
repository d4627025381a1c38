#include "kernels/kernel_paths.h"

#include "kernels/cpu_features.h"
#include "kernels/portable/portable_kernels.h"
#if defined(__x86_64__)
#include "kernels/x86/x86_kernels.h"
#endif
#if defined(FDAL_ARM_KERNELS)
#include "kernels/arm/arm_kernels.h"
#endif

namespace fdal {

const std::vector<KernelPath>& kernel_paths_of_this_build() {
  static const std::vector<KernelPath> paths = {
#if defined(__x86_64__)
      {"avx512vnni", [] { return cpu_features().avx512vnni; }, &avx512vnni_kernel_table},
      {"avx2", [] { return cpu_features().avx2; }, &avx2_kernel_table},
#endif
#if defined(FDAL_ARM_KERNELS) && defined(__aarch64__)
      {"neon-dotprod", [] { return cpu_features().dotprod; }, &neon_dotprod_kernel_table},
#endif
#if defined(FDAL_ARM_KERNELS)
      {"neon", [] { return cpu_features().neon; }, &neon_kernel_table},
#endif
      {"portable", [] { return true; }, &portable_kernel_table},
      {"reference", [] { return true; }, &reference_kernel_table},
  };
  return paths;
}

}  // namespace fdal
