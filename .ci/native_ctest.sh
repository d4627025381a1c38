#!/usr/bin/env bash
# Native C++ tests: configure and build the library, fdal-rank and the ctest suite with Ninja in
# build/ctest-native, then run ctest once with the dispatcher's choice (FDAL_KERNELS=auto) and
# once per kernel path this CPU can run (each must match the oracle's goldens bit for bit).
#   .ci/native_ctest.sh            (JOBS=N to change the parallelism; default: nproc)
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=${JOBS:-$(nproc)}
BUILD=build/ctest-native
GOLDEN=csrc/tests/golden

for tool in cmake ninja c++; do
  command -v "$tool" >/dev/null || { echo "native_ctest: '$tool' not found (apt-get install cmake ninja-build g++)" >&2; exit 2; }
done

echo "== native: configure + build ($BUILD)"
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DFDAL_BUILD_TOOLS=ON -DFDAL_BUILD_TESTS=ON >/dev/null
cmake --build "$BUILD" -j "$JOBS"

# The kernel paths this build knows (from the dispatcher's own error message) that this CPU runs.
probe() { FDAL_KERNELS="$1" "$BUILD/csrc/tools/fdal-rank" "$GOLDEN/alexnet_lite.fdal" "$GOLDEN/pool.npy" -k 1 2>&1 >/dev/null || true; }
known=$(probe __list__ | sed -n 's/.*known: \([^)]*\)).*/\1/p' | tr -d ',')
paths=""
for p in $known; do
  [ "$p" = auto ] && continue
  if FDAL_KERNELS="$p" "$BUILD/csrc/tools/fdal-rank" "$GOLDEN/alexnet_lite.fdal" "$GOLDEN/pool.npy" -k 1 >/dev/null 2>&1; then
    paths="$paths $p"
  else
    echo "   (kernel path '$p' is built in but this CPU cannot run it)"
  fi
done
echo "== native: kernel paths runnable here:${paths:- (none found)}"
[ -n "$paths" ] || { echo "native_ctest: could not list kernel paths" >&2; exit 1; }

for p in auto $paths; do
  echo "== native ctest, FDAL_KERNELS=$p"
  FDAL_KERNELS=$p ctest --test-dir "$BUILD/csrc" --output-on-failure -j "$JOBS"
done
echo "== native ctest: all passed"
