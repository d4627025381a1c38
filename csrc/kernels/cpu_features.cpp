#include "kernels/cpu_features.h"

#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__)
#define FDAL_X86 1
#include <cpuid.h>
#endif
#if (defined(__aarch64__) || defined(__arm__)) && defined(__linux__)
#define FDAL_ARM_LINUX 1
#include <sys/auxv.h>
#endif

namespace fdal {

namespace {

#if defined(FDAL_X86)
unsigned long long read_xcr0() {
  unsigned int eax = 0, edx = 0;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (static_cast<unsigned long long>(edx) << 32) | eax;
}

CpuFeatures detect() {
  CpuFeatures f;
  unsigned int eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return f;
  const bool osxsave = (ecx >> 27) & 1, avx = (ecx >> 28) & 1;
  if (!osxsave || !avx) return f;
  const unsigned long long xcr0 = read_xcr0();
  const bool ymm_state = (xcr0 & 0x6) == 0x6;            // SSE + AVX state
  const bool zmm_state = (xcr0 & 0xE6) == 0xE6;          // + opmask, ZMM_Hi256, Hi16_ZMM
  if (__get_cpuid_max(0, nullptr) < 7) return f;
  __cpuid_count(7, 0, eax, ebx, ecx, edx);
  const bool avx2 = (ebx >> 5) & 1;
  const bool avx512f = (ebx >> 16) & 1, avx512bw = (ebx >> 30) & 1, avx512vl = (ebx >> 31) & 1;
  const bool vnni = (ecx >> 11) & 1;
  f.avx2 = avx2 && ymm_state;
  f.avx512vnni = f.avx2 && zmm_state && avx512f && avx512bw && avx512vl && vnni;
  return f;
}
#elif defined(FDAL_ARM_LINUX)
CpuFeatures detect() {
  CpuFeatures f;
#if defined(__aarch64__)
  f.neon = true;  // Advanced SIMD is mandatory on AArch64
  const unsigned long hwcap = getauxval(AT_HWCAP);
  f.dotprod = (hwcap & (1UL << 20)) != 0;  // HWCAP_ASIMDDP
#else
  const unsigned long hwcap = getauxval(AT_HWCAP);
  f.neon = (hwcap & (1UL << 12)) != 0;  // HWCAP_NEON
#endif
  return f;
}
#else
CpuFeatures detect() { return CpuFeatures{}; }
#endif

}  // namespace

const CpuFeatures& cpu_features() {
  static const CpuFeatures features = detect();
  return features;
}

}  // namespace fdal
