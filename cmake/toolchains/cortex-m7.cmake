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
# Hard-float ABI. fpv5-d16: the double-precision FPU of most M7 parts (STM32F76x/H7, i.MX RT):
# the float64 ranking keys run in hardware. fpv5-sp-d16: single precision only (STM32F74x/F75x):
# doubles run in libgcc's software floating point. Both are IEEE-754 round-to-nearest, like every
# other CPU, and the library builds with -ffp-contract=off (no fused ops): the same keys either way.
# Read on the first configure of a build directory only (it sets the initial compiler flags).
set(FDAL_MCU_FPU "fpv5-d16" CACHE STRING "Cortex-M7 FPU: fpv5-d16 or fpv5-sp-d16")
if(NOT FDAL_MCU_FPU MATCHES "^fpv5-(sp-)?d16$")
  message(FATAL_ERROR "FDAL_MCU_FPU='${FDAL_MCU_FPU}': expected fpv5-d16 or fpv5-sp-d16")
endif()
# Sections per function and object so that --gc-sections drops what the firmware never calls.
set(fdal_m7_flags "-mcpu=cortex-m7 -mthumb -mfloat-abi=hard -mfpu=${FDAL_MCU_FPU} -ffunction-sections -fdata-sections")
set(CMAKE_C_FLAGS_INIT "${fdal_m7_flags}")
set(CMAKE_CXX_FLAGS_INIT "${fdal_m7_flags}")
set(CMAKE_ASM_FLAGS_INIT "${fdal_m7_flags}")
# rdimon: newlib's semihosting syscalls (stdout, exit) for QEMU or a debug probe.
set(CMAKE_EXE_LINKER_FLAGS_INIT "--specs=rdimon.specs -Wl,--gc-sections")
set(CMAKE_FIND_ROOT_PATH /usr/lib/arm-none-eabi)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
