#!/usr/bin/env bash
# Cross builds and emulated C++ tests: aarch64 (tested under qemu-aarch64-static as a Cortex-A53,
# no dot-product, and as "max", with dot-product) and armv7 hard-float (qemu-arm-static). Each
# target builds with Ninja in build/<target>; ctest runs once per emulated CPU, and its
# test_kernel_paths checks every kernel path that CPU can run (cortex-a53: neon, portable,
# reference; max: neon-dotprod too). The goldens come from the x86 numpy oracle, so a pass means
# bit-exact agreement across x86-64, aarch64 and armv7.
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

test_target() {  # test_target NAME QEMU CPU [PATH...]: PATHs test_kernel_paths must have run
  local name=$1 qemu=$2 cpu=$3 build="build/$1"
  shift 3
  cmake -S . -B "$build" -DFDAL_QEMU_CPU="$cpu" >/dev/null  # only the emulator command changes
  ctest_suite "$name on $cpu ($qemu)" "$build" "$@"
}

build_target aarch64 aarch64-linux-gnu
test_target aarch64 qemu-aarch64-static cortex-a53 neon portable reference
test_target aarch64 qemu-aarch64-static max neon-dotprod neon portable reference
build_target armv7 arm-linux-gnueabihf
test_target armv7 qemu-arm-static cortex-a15 neon portable reference
echo "== arm tests: all passed"
