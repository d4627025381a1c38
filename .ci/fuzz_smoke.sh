#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan+UBSan), writes the seed corpus and runs each target for
# FUZZ_SECONDS (default 60). Any crash, sanitizer report, leak or timeout fails the script; the
# reproducer is left in $BUILD/artifacts/ (add it to tests/regressions/).
# Usage: .ci/fuzz_smoke.sh [build dir, default build/fuzz-smoke]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build/fuzz-smoke}
SECONDS_PER_TARGET=${FUZZ_SECONDS:-60}
if ! command -v clang++ >/dev/null; then
  echo "fuzz_smoke: clang++ is needed (apt-get install clang libclang-rt-14-dev)" >&2
  exit 1
fi
CC=clang CXX=clang++ cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DFDAL_BUILD_FUZZERS=ON -DFDAL_BUILD_TOOLS=OFF -DFDAL_BUILD_TESTS=OFF >/dev/null
cmake --build "$BUILD" -j "${JOBS:-2}" --target fuzz_load fuzz_load_run
python3 csrc/fuzz/make_corpus.py "$BUILD/seeds"
[ -d tests/regressions ] && cp tests/regressions/* "$BUILD/seeds/" 2>/dev/null || true
mkdir -p "$BUILD/artifacts"
for target in fuzz_load fuzz_load_run; do
  mkdir -p "$BUILD/work_$target"
  echo "== $target for ${SECONDS_PER_TARGET}s"
  "$BUILD/csrc/fuzz/$target" -max_total_time="$SECONDS_PER_TARGET" -max_len=65536 -timeout=30 \
    -rss_limit_mb=2048 -dict=csrc/fuzz/fdal.dict -artifact_prefix="$BUILD/artifacts/$target-" \
    -print_final_stats=1 "$BUILD/work_$target" "$BUILD/seeds" 2>"$BUILD/$target.log" \
    || { tail -n 60 "$BUILD/$target.log"; echo "fuzz_smoke: $target FAILED" >&2; exit 1; }
  grep -E "^stat::number_of_executed_units|^#[0-9]+.*DONE" "$BUILD/$target.log" | tail -n 2
done
echo "== fuzz smoke: no findings"
