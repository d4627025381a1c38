# Cross-compile for 64-bit ARM Linux boards (Raspberry Pi 4/5, Jetson, ...) with Debian's
# g++-aarch64-linux-gnu; ctest runs the cross-built tests under qemu-user.
#   cmake -S . -B build-aarch64 -DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/aarch64-linux-gnu.cmake
# FDAL_QEMU_CPU picks the emulated core: cortex-a53 (no dot-product) or max (dot-product).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(FDAL_QEMU_CPU "cortex-a53" CACHE STRING "CPU model qemu-aarch64 emulates for ctest")
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64-static -cpu ${FDAL_QEMU_CPU} -L /usr/aarch64-linux-gnu)
