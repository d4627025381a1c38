# Shared by .ci/native_ctest.sh and .ci/arm_tests.sh (sourced from the repository root, after
# JOBS is set): run a build's ctest suite once with the dispatcher's choice (FDAL_KERNELS=auto)
# and once per kernel path the (real or emulated) CPU can run.
GOLDEN=csrc/tests/golden

# ctest_every_kernel_path LABEL BUILD RUNNER...: RUNNER is the command prefix that runs a binary
# of BUILD (empty for native, "qemu-... -cpu X" for emulated). The kernel paths the build knows
# come from the dispatcher's own error message for FDAL_KERNELS=__list__; a path counts as
# runnable when fdal-rank ranks the golden pool with it.
ctest_every_kernel_path() {
  local label=$1 build=$2 known paths="" p
  shift 2
  rank_golden() {
    FDAL_KERNELS="$1" "${@:2}" "$build/csrc/tools/fdal-rank" "$GOLDEN/alexnet_lite.fdal" "$GOLDEN/pool.npy" -k 1
  }
  known=$({ rank_golden __list__ "$@" 2>&1 >/dev/null || true; } | sed -n 's/.*known: \([^)]*\)).*/\1/p' | tr -d ',')
  for p in $known; do
    [ "$p" = auto ] && continue
    if rank_golden "$p" "$@" >/dev/null 2>&1; then
      paths="$paths $p"
    else
      echo "   ($label: kernel path '$p' is built in but this CPU cannot run it)"
    fi
  done
  echo "== $label: kernel paths runnable:${paths:- (none found)}"
  [ -n "$paths" ] || { echo "$(basename "$0"): could not list kernel paths for $label" >&2; exit 1; }
  for p in auto $paths; do
    echo "== $label ctest, FDAL_KERNELS=$p"
    FDAL_KERNELS=$p ctest --test-dir "$build/csrc" --output-on-failure -j "$JOBS"
  done
}
