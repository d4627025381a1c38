# Cross-compile for 32-bit ARMv7 Linux boards (hard-float, NEON) with Debian's
# g++-arm-linux-gnueabihf; ctest runs the cross-built tests under qemu-user.
#   cmake -S . -B build/armv7 -G Ninja -DCMAKE_TOOLCHAIN_FILE=$PWD/cmake/toolchains/arm-linux-gnueabihf.cmake
#   ninja -C build/armv7 && ctest --test-dir build/armv7/csrc
set(FDAL_CROSS_TRIPLE arm-linux-gnueabihf)
set(FDAL_CROSS_QEMU qemu-arm-static)
set(CMAKE_SYSTEM_PROCESSOR armv7l)
# NEON is optional on ARMv7: the NEON kernels get -mfpu=neon per file and are chosen at run time
# from HWCAP, so the baseline here stays plain ARMv7-A with VFPv3-D16.
# -Wno-psabi: silences GCC notes that a C++ ABI detail changed in GCC 7 (irrelevant: one compiler).
set(CMAKE_C_FLAGS_INIT "-march=armv7-a -mfpu=vfpv3-d16 -mfloat-abi=hard -Wno-psabi")
set(CMAKE_CXX_FLAGS_INIT "-march=armv7-a -mfpu=vfpv3-d16 -mfloat-abi=hard -Wno-psabi")
set(FDAL_QEMU_CPU "cortex-a15" CACHE STRING "CPU model qemu-arm emulates for ctest")
include(${CMAKE_CURRENT_LIST_DIR}/debian_cross.cmake)
