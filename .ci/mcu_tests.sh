#!/usr/bin/env bash
# Cortex-M7 firmware under emulation: a trained student and its unlabeled pool (fdal quickstart
# --fast: 280 images of 32x32x3) are ranked on this x86 machine (`fdal rank`, the Python API over
# the native library; also build/ctest-native's fdal-rank when native_ctest built it) and by the
# firmware of csrc/mcu (cmake/toolchains/cortex-m7.cmake) under qemu-system-arm -M mps2-an500
# -cpu cortex-m7 with semihosting, once per strategy; the picks must be identical, line for line.
# The firmware's RAM is capped at 512 KiB by its linker script, so a pass also means it fits; the
# model is read in place from flash (fdal_model_load_memory_in_place).
#   .ci/mcu_tests.sh            (JOBS=N to change the parallelism; default: nproc)
# Needs: apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi libstdc++-arm-none-eabi-newlib
#        qemu-system-arm cmake ninja-build; pip install ".[train]" (quickstart trains with torch)
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=${JOBS:-$(nproc)}
BUILD=build/mcu
WORK=$BUILD/data
K=20
start=$(date +%s)
APT="apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi libstdc++-arm-none-eabi-newlib qemu-system-arm"

# Only a missing ARM toolchain skips (laptops without it); anything else missing is a failure.
for tool in arm-none-eabi-g++ qemu-system-arm; do
  command -v "$tool" >/dev/null || { echo "mcu_tests: SKIPPED: '$tool' not found ($APT)"; exit 0; }
done
for lib in librdimon.a libstdc++.a; do  # -print-file-name echoes the bare name when it finds none
  if [ "$(arm-none-eabi-g++ -mcpu=cortex-m7 -mthumb -mfloat-abi=hard -mfpu=fpv5-d16 -print-file-name=$lib)" = "$lib" ]; then
    echo "mcu_tests: SKIPPED: $lib for arm-none-eabi not found ($APT)"
    exit 0
  fi
done
for tool in cmake ninja fdal timeout; do
  command -v "$tool" >/dev/null || { echo "mcu_tests: '$tool' not found (apt-get install cmake ninja-build; pip install '.[train]')" >&2; exit 2; }
done

echo "== mcu: a trained student and its pool (fdal quickstart --fast, $WORK)"
rm -rf "$WORK" && mkdir -p "$WORK"
fdal quickstart --fast --seed 0 --threads 1 --out "$WORK/quickstart" >"$WORK/quickstart.log" 2>&1 || {
  tail -20 "$WORK/quickstart.log" >&2; echo "mcu_tests: fdal quickstart --fast failed" >&2; exit 1; }
MODEL=$WORK/quickstart/student.fdal
POOL=$WORK/quickstart/unlabeled_pool.npy
fdal info "$MODEL" >"$WORK/info.txt"  # to a file: `| head` would end it with SIGPIPE under pipefail
head -4 "$WORK/info.txt"

native=build/ctest-native/csrc/tools/fdal-rank
configure() {  # configure STRATEGY [CMAKE_ARG...]: the firmware for one strategy
  local strategy=$1
  shift
  cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_TOOLCHAIN_FILE="$PWD/cmake/toolchains/cortex-m7.cmake" \
    -DFDAL_MCU_MODEL="$PWD/$MODEL" -DFDAL_MCU_POOL="$PWD/$POOL" -DFDAL_MCU_K=$K \
    -DFDAL_MCU_STRATEGY="$strategy" -DFDAL_MCU_KERNELS=auto -DFDAL_MCU_STACK_BYTES=16384 -DFDAL_MCU_RAM_KB=512 \
    "$@" >/dev/null
}

check() {  # check STRATEGY [CMAKE_ARG...]: x86 picks == firmware picks under qemu
  local strategy=$1 name="$1${2:+ $2}" t0
  t0=$(date +%s)
  fdal rank "$MODEL" "$POOL" -k $K --strategy "$strategy" >"$WORK/$strategy.x86"
  if [ -x "$native" ]; then
    "$native" "$MODEL" "$POOL" -k $K --strategy "$strategy" | diff -q - "$WORK/$strategy.x86" >/dev/null || {
      echo "mcu_tests: $strategy: fdal-rank and fdal rank disagree on x86" >&2; exit 1; }
  fi
  configure "$@"
  cmake --build "$BUILD" -j "$JOBS" >"$WORK/build.log" 2>&1 || { tail -30 "$WORK/build.log" >&2; exit 1; }
  local rc=0
  timeout 300 qemu-system-arm -M mps2-an500 -cpu cortex-m7 -nographic \
    -semihosting-config enable=on,target=native -kernel "$BUILD/csrc/mcu/fdal-mcu.elf" \
    >"$WORK/$strategy.mcu" 2>"$WORK/$strategy.err" </dev/null || rc=$?
  if [ $rc -ne 0 ]; then
    cat "$WORK/$strategy.err" >&2
    echo "mcu_tests: $name: the firmware failed under qemu (exit $rc; 124: over the 300 s timeout)" >&2
    exit 1
  fi
  if ! diff "$WORK/$strategy.x86" "$WORK/$strategy.mcu" >"$WORK/$strategy.diff"; then
    head -20 "$WORK/$strategy.diff" >&2
    echo "mcu_tests: $name: the Cortex-M7 picks differ from x86 (diff above: < x86, > cortex-m7)" >&2
    exit 1
  fi
  echo "== mcu: $name: $K picks identical to x86 ($(( $(date +%s) - t0 )) s, $BUILD)"
  sed 's/^/   /' "$WORK/$strategy.err"
}

expect_failure() {  # expect_failure NAME EXIT_CODE MESSAGE [CMAKE_ARG...]: a clear refusal, not a crash
  local name=$1 code=$2 message=$3 rc=0
  shift 3
  configure margin "$@"
  cmake --build "$BUILD" -j "$JOBS" >"$WORK/build.log" 2>&1 || { tail -30 "$WORK/build.log" >&2; exit 1; }
  timeout 300 qemu-system-arm -M mps2-an500 -cpu cortex-m7 -nographic \
    -semihosting-config enable=on,target=native -kernel "$BUILD/csrc/mcu/fdal-mcu.elf" \
    >"$WORK/failure.out" 2>"$WORK/failure.err" </dev/null || rc=$?
  if [ $rc -ne "$code" ] || ! grep -q "$message" "$WORK/failure.err" || [ -s "$WORK/failure.out" ]; then
    cat "$WORK/failure.err" >&2
    echo "mcu_tests: $name: expected exit $code, '$message' and no picks; got exit $rc" >&2
    exit 1
  fi
  echo "== mcu: $name: refused as expected: $(cat "$WORK/failure.err")"
}

echo "== mcu: libfdal.a + firmware for cortex-m7 ($BUILD)"
for strategy in fdal margin entropy random power classbalanced kcenter typiclust; do
  check "$strategy"
done
# The reference kernels too (direct loops: an 8 KiB stack is enough for them).
check margin -DFDAL_MCU_KERNELS=reference -DFDAL_MCU_STACK_BYTES=8192
# probcover needs more than 512 KiB for 280 candidates: bit-exact with 4 MiB (all of the board's
# SSRAM 2&3). Too little RAM is a clear out-of-memory error, not a crash: kcenter in 128 KiB.
check probcover -DFDAL_MCU_RAM_KB=4096
expect_failure "kcenter in 128 KiB" 7 "out of memory" -DFDAL_MCU_STRATEGY=kcenter -DFDAL_MCU_RAM_KB=128
# Too small a stack (the portable kernels use about 11 KiB) is caught after the ranking, no picks.
expect_failure "a 4 KiB stack" 7 "stack overflow" -DFDAL_MCU_STACK_BYTES=4096
# A truncated model (exit 3) and a pool of another image shape, the 16x16x3 golden pool (exit 5),
# as fdal-rank.
head -c 1000 "$MODEL" >"$WORK/truncated.fdal"
expect_failure "a truncated model" 3 "truncated or padded file" -DFDAL_MCU_MODEL="$PWD/$WORK/truncated.fdal"
expect_failure "a 16x16x3 pool" 5 "as the model expects" -DFDAL_MCU_POOL="$PWD/csrc/tests/golden/pool.npy"
# A single-precision FPU (fpv5-sp-d16, as on STM32F74x): the float64 keys of entropy and power run
# in libgcc's software floating point; a build directory of its own (the FPU sets the first flags).
BUILD=build/mcu-sp
check entropy -DFDAL_MCU_FPU=fpv5-sp-d16
check power -DFDAL_MCU_FPU=fpv5-sp-d16
BUILD=build/mcu
configure margin  # the default build, for the sizes (docs/deploy-mcu.md)
cmake --build "$BUILD" -j "$JOBS" >/dev/null
arm-none-eabi-size "$BUILD/csrc/mcu/fdal-mcu.elf"
arm-none-eabi-size -A "$BUILD/csrc/mcu/fdal-mcu.elf" | grep -E '^(section|\.text|\.fdal|\.ARM|\.init|\.data|\.bss)'
echo "== mcu tests: all passed ($(( $(date +%s) - start )) s)"
