// Kernel selection: CPU feature detection (cpuid/xgetbv on x86, HWCAP on ARM) picks a table once
// per model load; FDAL_KERNELS or an explicit name forces one (including "reference").
#include <cstdlib>
#include <stdexcept>
#include <string>

#include "kernels/cpu_features.h"
#include "kernels/kernel_table.h"
#include "kernels/reference/reference_kernels.h"
#if defined(__x86_64__)
#include "kernels/x86/x86_kernels.h"
#endif
#if defined(FDAL_ARM_KERNELS)
#include "kernels/arm/arm_kernels.h"
#endif

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
      PackSpec{},
      nullptr,
      nullptr,
      nullptr,
      1,
      nullptr,
      nullptr,
  };
  return table;
}

namespace {

struct PathEntry {
  const KernelTable* (*table)();  // null when this build has no such path
  bool (*runs_here)();
};

// Best first. Every path of this build for this architecture.
std::vector<PathEntry> paths_of_this_build() {
  std::vector<PathEntry> paths;
#if defined(__x86_64__)
  paths.push_back({[] { return &avx512vnni_kernel_table(); }, [] { return cpu_features().avx512vnni; }});
  paths.push_back({[] { return &avx2_kernel_table(); }, [] { return cpu_features().avx2; }});
#endif
#if defined(FDAL_ARM_KERNELS)
#if defined(__aarch64__)
  paths.push_back({[] { return &neon_dotprod_kernel_table(); }, [] { return cpu_features().dotprod; }});
#endif
  paths.push_back({[] { return &neon_kernel_table(); }, [] { return cpu_features().neon; }});
#endif
  paths.push_back({[] { return &reference_kernel_table(); }, [] { return true; }});
  return paths;
}

std::string known_names() {
  std::string names = "auto";
  for (const PathEntry& p : paths_of_this_build()) names += std::string(", ") + p.table()->name;
  return names;
}

}  // namespace

std::vector<std::string> available_kernel_paths() {
  std::vector<std::string> names;
  for (const PathEntry& p : paths_of_this_build()) {
    if (p.runs_here()) names.push_back(p.table()->name);
  }
  return names;
}

const KernelTable& kernel_table_by_name(const std::string& requested) {
  std::string name = requested;
  if (name.empty() || name == "auto") {
    const char* forced = std::getenv("FDAL_KERNELS");
    name = forced == nullptr ? "" : forced;
    if (name.empty() || name == "auto") {
      for (const PathEntry& p : paths_of_this_build()) {
        if (p.runs_here()) return *p.table();
      }
    }
  }
  for (const PathEntry& p : paths_of_this_build()) {
    if (name != p.table()->name) continue;
    if (!p.runs_here()) {
      throw std::invalid_argument("kernel path '" + name +
                                  "' is built in but this CPU cannot run it (available here: " +
                                  [] {
                                    std::string s;
                                    for (const std::string& n : available_kernel_paths())
                                      s += (s.empty() ? "" : ", ") + n;
                                    return s;
                                  }() + ")");
    }
    return *p.table();
  }
  throw std::invalid_argument("'" + name + "' is not a kernel path of this build (known: " +
                              known_names() + ")");
}

const KernelTable& select_kernel_table() { return kernel_table_by_name("auto"); }

}  // namespace fdal
