# Cross-compile for 64-bit ARM Linux boards (Raspberry Pi 3/4/5, Jetson, ...) with Debian's
# g++-aarch64-linux-gnu; ctest runs the cross-built tests under qemu-user.
#   cmake -S . -B build/aarch64 -G Ninja -DCMAKE_TOOLCHAIN_FILE=$PWD/cmake/toolchains/aarch64-linux-gnu.cmake
#   ninja -C build/aarch64 && ctest --test-dir build/aarch64/csrc
# FDAL_QEMU_CPU picks the emulated core: cortex-a53 (ARMv8.0, no dot-product) or max (every
# extension qemu knows, dot-product included), so both NEON paths can be tested.
set(FDAL_CROSS_TRIPLE aarch64-linux-gnu)
set(FDAL_CROSS_QEMU qemu-aarch64-static)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
# Debian's aarch64 GCC 12.2 crashes (ICE in vect_transform_reduction) vectorizing the fmax
# reduction of rank/keys.cpp at -O3 with its default cost model; the "very-cheap" model avoids it
# and keeps vectorizing simple loops. The NEON kernels use intrinsics and are unaffected.
set(CMAKE_C_FLAGS_INIT "-fvect-cost-model=very-cheap")
set(CMAKE_CXX_FLAGS_INIT "-fvect-cost-model=very-cheap")
set(FDAL_QEMU_CPU "cortex-a53" CACHE STRING "CPU model qemu-aarch64 emulates for ctest (cortex-a53 or max)")
include(${CMAKE_CURRENT_LIST_DIR}/debian_cross.cmake)
