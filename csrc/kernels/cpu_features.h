// CPU feature detection for kernel selection: cpuid + xgetbv on x86 (the OS must save the
// AVX / AVX-512 register state), getauxval(AT_HWCAP/AT_HWCAP2) on ARM Linux.
#pragma once

namespace fdal {

struct CpuFeatures {
  bool avx2 = false;        // AVX2 + FMA-era integer ops, OS saves YMM state
  bool avx512vnni = false;  // AVX-512 F/BW/VL + VNNI, OS saves ZMM/opmask state
  bool neon = false;        // Advanced SIMD (always on aarch64; HWCAP_NEON on armv7)
  bool dotprod = false;     // aarch64 SDOT/UDOT (HWCAP_ASIMDDP)
};

// Detected once; cheap to call again.
const CpuFeatures& cpu_features();

}  // namespace fdal
