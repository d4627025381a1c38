// Kernel selection: CPU feature detection (cpuid/xgetbv on x86, HWCAP on ARM) picks a table once
// per model load; FDAL_KERNELS or an explicit name forces one (including "reference").
#include <cstdlib>
#include <stdexcept>
#include <string>

#include "kernels/kernel_paths.h"
#include "kernels/kernel_table.h"

namespace fdal {

namespace {

std::string joined(const std::vector<std::string>& names) {
  std::string s;
  for (const std::string& n : names) s += (s.empty() ? "" : ", ") + n;
  return s;
}

}  // namespace

std::vector<std::string> available_kernel_paths() {
  std::vector<std::string> names;
  for (const KernelPath& p : kernel_paths_of_this_build()) {
    if (p.runs_here()) names.push_back(p.name);
  }
  return names;
}

const KernelTable& kernel_table_by_name(const std::string& requested) {
  std::string name = requested;
  if (name.empty() || name == "auto") {
    const char* forced = std::getenv("FDAL_KERNELS");
    name = forced == nullptr ? "" : forced;
    if (name.empty() || name == "auto") {
      for (const KernelPath& p : kernel_paths_of_this_build()) {
        if (p.runs_here()) return p.table();
      }
    }
  }
  std::vector<std::string> known = {"auto"};
  for (const KernelPath& p : kernel_paths_of_this_build()) {
    known.push_back(p.name);
    if (name != p.name) continue;
    if (!p.runs_here()) {
      throw std::invalid_argument("kernel path '" + name +
                                  "' is built in but this CPU cannot run it (available here: " +
                                  joined(available_kernel_paths()) + ")");
    }
    return p.table();
  }
  throw std::invalid_argument("'" + name + "' is not a kernel path of this build (known: " +
                              joined(known) + ")");
}

const KernelTable& select_kernel_table() { return kernel_table_by_name("auto"); }

}  // namespace fdal
