#!/usr/bin/env bash
# Cross builds and emulated C++ tests: aarch64 (tested under qemu-aarch64-static as a Cortex-A53,
# no dot-product, and as "max", with dot-product) and armv7 hard-float (qemu-arm-static). Each
# target builds with Ninja in build/<target>; ctest runs once with the dispatcher's choice and once
# per kernel path the emulated CPU can run. The goldens come from the x86 numpy oracle, so a pass
# means bit-exact agreement across x86-64, aarch64 and armv7.
#   .ci/arm_tests.sh               (JOBS=N to change the parallelism; default: nproc)
# Needs: apt-get install g++-aarch64-linux-gnu g++-arm-linux-gnueabihf qemu-user-static cmake ninja-build
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=${JOBS:-$(nproc)}
source .ci/ctest_lib.sh

for tool in cmake ninja aarch64-linux-gnu-g++ arm-linux-gnueabihf-g++ qemu-aarch64-static qemu-arm-static; do
  command -v "$tool" >/dev/null || {
    echo "arm_tests: '$tool' not found (apt-get install g++-aarch64-linux-gnu g++-arm-linux-gnueabihf qemu-user-static cmake ninja-build)" >&2
    exit 2
  }
done

build_target() {  # build_target NAME TOOLCHAIN
  echo "== $1: configure + build (build/$1)"
  cmake -S . -B "build/$1" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_TOOLCHAIN_FILE="$PWD/cmake/toolchains/$2.cmake" >/dev/null
  cmake --build "build/$1" -j "$JOBS"
}

test_target() {  # test_target NAME QEMU CPU
  local name=$1 qemu=$2 cpu=$3 build="build/$1"
  cmake -S . -B "$build" -DFDAL_QEMU_CPU="$cpu" >/dev/null  # only the emulator command changes
  ctest_every_kernel_path "$name on $cpu ($qemu)" "$build" "$qemu" -cpu "$cpu"
}

build_target aarch64 aarch64-linux-gnu
test_target aarch64 qemu-aarch64-static cortex-a53
test_target aarch64 qemu-aarch64-static max
build_target armv7 arm-linux-gnueabihf
test_target armv7 qemu-arm-static cortex-a15
echo "== arm tests: all passed"
