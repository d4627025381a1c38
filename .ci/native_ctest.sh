#!/usr/bin/env bash
# Native C++ tests: configure and build the library, fdal-rank and the ctest suite with Ninja in
# build/ctest-native, then run ctest once; test_kernel_paths checks every kernel path this CPU can
# run against the oracle's goldens, bit for bit, and says which ran and which were skipped.
#   .ci/native_ctest.sh            (JOBS=N to change the parallelism; default: nproc)
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=${JOBS:-$(nproc)}
BUILD=build/ctest-native
source .ci/ctest_lib.sh

for tool in cmake ninja c++; do
  command -v "$tool" >/dev/null || { echo "native_ctest: '$tool' not found (apt-get install cmake ninja-build g++)" >&2; exit 2; }
done

echo "== native: configure + build ($BUILD)"
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DFDAL_BUILD_TOOLS=ON -DFDAL_BUILD_TESTS=ON >/dev/null
cmake --build "$BUILD" -j "$JOBS"

ctest_suite native "$BUILD" portable reference
echo "== native ctest: all passed"
