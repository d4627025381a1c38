# Cross-compile for a bare-metal Cortex-M7 (ARMv7E-M, double-precision FPU) with Debian's
# gcc-arm-none-eabi, libnewlib-arm-none-eabi and libstdc++-arm-none-eabi-newlib. Builds libfdal.a
# and, given a model and a pool, the firmware csrc/mcu (docs/deploy-mcu.md):
#   cmake -S . -B build/mcu -G Ninja -DCMAKE_TOOLCHAIN_FILE=$PWD/cmake/toolchains/cortex-m7.cmake \
#         -DFDAL_MCU_MODEL=student.fdal -DFDAL_MCU_POOL=pool.npy -DFDAL_MCU_K=20 -DFDAL_MCU_STRATEGY=margin
#   ninja -C build/mcu && qemu-system-arm -M mps2-an500 -cpu cortex-m7 -nographic \
#         -semihosting-config enable=on,target=native -kernel build/mcu/csrc/mcu/fdal-mcu.elf
set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR cortex-m7)
set(CMAKE_C_COMPILER arm-none-eabi-gcc)
set(CMAKE_CXX_COMPILER arm-none-eabi-g++)
set(CMAKE_ASM_COMPILER arm-none-eabi-gcc)
# try_compile cannot link an executable without a startup file and a linker script.
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)
# Hard-float ABI on the M7's FPv5 double-precision unit: the float64 ranking keys run in hardware
# (IEEE-754 like every other CPU; the library builds with -ffp-contract=off, so no fused ops).
# Sections per function and object so that --gc-sections drops what the firmware never calls.
set(fdal_m7_flags "-mcpu=cortex-m7 -mthumb -mfloat-abi=hard -mfpu=fpv5-d16 -ffunction-sections -fdata-sections")
set(CMAKE_C_FLAGS_INIT "${fdal_m7_flags}")
set(CMAKE_CXX_FLAGS_INIT "${fdal_m7_flags}")
set(CMAKE_ASM_FLAGS_INIT "${fdal_m7_flags}")
# rdimon: newlib's semihosting syscalls (stdout, exit) for QEMU or a debug probe.
set(CMAKE_EXE_LINKER_FLAGS_INIT "--specs=rdimon.specs -Wl,--gc-sections")
set(CMAKE_FIND_ROOT_PATH /usr/lib/arm-none-eabi)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
