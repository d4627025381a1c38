# Cross-compile for 64-bit ARM Linux boards (Raspberry Pi 3/4/5, Jetson, ...) with Debian's
# g++-aarch64-linux-gnu; ctest runs the cross-built tests under qemu-user.
#   cmake -S . -B build/aarch64 -G Ninja -DCMAKE_TOOLCHAIN_FILE=$PWD/cmake/toolchains/aarch64-linux-gnu.cmake
#   ninja -C build/aarch64 && ctest --test-dir build/aarch64/csrc
# FDAL_QEMU_CPU picks the emulated core: cortex-a53 (ARMv8.0, no dot-product) or max (every
# extension qemu knows, dot-product included), so both NEON paths can be tested.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
# Debian's aarch64 GCC 12.2 crashes (ICE in vect_transform_reduction) vectorizing the fmax
# reduction of rank/keys.cpp at -O3 with its default cost model; the "very-cheap" model avoids it
# and keeps vectorizing simple loops. The NEON kernels use intrinsics and are unaffected.
set(CMAKE_C_FLAGS_INIT "-fvect-cost-model=very-cheap")
set(CMAKE_CXX_FLAGS_INIT "-fvect-cost-model=very-cheap")
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(FDAL_QEMU_CPU "cortex-a53" CACHE STRING "CPU model qemu-aarch64 emulates for ctest (cortex-a53 or max)")
# -L: the target's libc for dynamically linked binaries (tools and tests link statically by default).
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64-static -cpu ${FDAL_QEMU_CPU} -L /usr/aarch64-linux-gnu)
