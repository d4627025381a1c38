// The one list of kernel paths: each name with its "can this CPU run it" probe and its table.
// dispatch.cpp selects from it (available_kernel_paths, kernel_table_by_name) and
// csrc/tests/test_kernel_paths.cpp runs the goldens on every entry this CPU can run.
#pragma once
#include <vector>

#include "kernels/kernel_table.h"

namespace fdal {

struct KernelPath {
  const char* name;  // equals table().name
  bool (*runs_here)();
  // Call only when runs_here(): an optimized table is built by code compiled with its ISA flags.
  const KernelTable& (*table)();
};

// Every path of this build for this architecture, best first:
// avx512vnni, avx2 / neon-dotprod, neon, portable, reference.
const std::vector<KernelPath>& kernel_paths_of_this_build();

}  // namespace fdal
