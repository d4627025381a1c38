#!/usr/bin/env bash
# AddressSanitizer + UndefinedBehaviorSanitizer, no recovery: any report fails the script.
#  1. the library, the C++ tests (ctest) and the fuzz targets built as replay drivers
#  2. the fuzz seed corpus (valid models + the malformed catalogue), any saved fuzz corpora and
#     tests/regressions/ replayed through both fuzz targets
#  3. the runtime's Python tests against a sanitized build of the extension (libasan preloaded
#     and libstdc++ preloaded into python, leak detection off: CPython's own allocations are not ours)
# Usage: .ci/sanitizers.sh [build dir, default build/sanitize]. CXX defaults to g++.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=${1:-build/sanitize}
JOBS=${JOBS:-2}
export CC=${CC:-gcc} CXX=${CXX:-g++}
SAN_FLAGS="-fno-sanitize-recover=all -fno-omit-frame-pointer"
export ASAN_OPTIONS=abort_on_error=1:detect_leaks=1:detect_stack_use_after_return=1:strict_string_checks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

echo "== sanitized native build ($CXX)"
cmake -S . -B "$BUILD/native" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFDAL_SANITIZE=ON \
  -DFDAL_BUILD_TESTS=ON -DFDAL_BUILD_TOOLS=ON -DFDAL_BUILD_FUZZERS=ON -DFDAL_FUZZ_ENGINE=replay \
  -DCMAKE_C_FLAGS="$SAN_FLAGS" -DCMAKE_CXX_FLAGS="$SAN_FLAGS" >/dev/null
cmake --build "$BUILD/native" -j "$JOBS"

if [ -f "$BUILD/native/csrc/tests/CTestTestfile.cmake" ]; then
  echo "== C++ tests under ASan+UBSan"
  ctest --test-dir "$BUILD/native/csrc" --output-on-failure -j "$JOBS"
fi

echo "== fuzz corpora replayed under ASan+UBSan"
python3 csrc/fuzz/make_corpus.py "$BUILD/corpus"
dirs=("$BUILD/corpus")
for d in tests/regressions build/fuzz/work_load build/fuzz/work_load_run ${FDAL_FUZZ_CORPUS:-}; do
  [ -d "$d" ] && dirs+=("$d")
done
echo "replaying $(find "${dirs[@]}" -type f | wc -l) files from: ${dirs[*]}"
for target in fuzz_load fuzz_load_run; do
  find "${dirs[@]}" -type f -print0 | xargs -0 -n 200 "$BUILD/native/csrc/fuzz/$target" >/dev/null
  echo "$target: no reports"
done

echo "== Python runtime tests against a sanitized extension"
cmake -S . -B "$BUILD/python" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFDAL_BUILD_PYTHON=ON \
  -DFDAL_SANITIZE=ON -DCMAKE_CXX_FLAGS="$SAN_FLAGS" -DPython_EXECUTABLE="$(command -v python3)" \
  -Dpybind11_DIR="$(python3 -m pybind11 --cmakedir)" >/dev/null
cmake --build "$BUILD/python" -j "$JOBS"
# A package directory whose fdal._core is the sanitized module (the .py files are links to ours).
STAGE=$(cd "$BUILD/python" && pwd)/stage
rm -rf "$STAGE" && mkdir -p "$STAGE/fdal"
for f in python/fdal/*; do
  case $f in *.so|*__pycache__) ;; *) ln -s "$ROOT/$f" "$STAGE/fdal/" ;; esac
done
cp "$(find "$BUILD/python" -name '_core*.so' | head -n 1)" "$STAGE/fdal/"
# libstdc++ is preloaded too: python does not link it, and ASan's __cxa_throw interceptor must find
# the real one at start-up ("CHECK failed: real___cxa_throw != 0" on the first C++ exception).
PRELOAD="$($CXX -print-file-name=libasan.so) $($CXX -print-file-name=libstdc++.so)"
RUNTIME_TESTS=$(ls tests/runtime/test_runtime_*.py tests/format/test_malformed_models.py tests/runtime/test_properties.py \
  tests/runtime/test_large_pool.py tests/runtime/test_concurrency.py)
# The editable install's import hook would load the unsanitized fdal; drop it, import from STAGE.
LD_PRELOAD=$PRELOAD ASAN_OPTIONS=$ASAN_OPTIONS:detect_leaks=0 FDAL_STAGE=$STAGE python3 - $RUNTIME_TESTS <<'EOF'
import os, sys
sys.meta_path[:] = [f for f in sys.meta_path if not type(f).__module__.startswith("_editable")]
sys.path.insert(0, os.environ["FDAL_STAGE"])
import fdal, fdal._core
assert fdal._core.__file__.startswith(os.environ["FDAL_STAGE"]), fdal._core.__file__
print("sanitized extension:", fdal._core.__file__)
import pytest
sys.exit(pytest.main(["-q", "-p", "no:cacheprovider", *sys.argv[1:]]))
EOF
echo "== sanitizers: no reports"
