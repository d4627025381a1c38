# Shared by .ci/native_ctest.sh and .ci/arm_tests.sh (sourced from the repository root, after
# JOBS is set): run a build's ctest suite once, with the dispatcher's own choice of kernel path.
# test_kernel_paths checks the goldens on every path of csrc/kernels/kernel_paths.cpp that the
# (real or emulated) CPU can run, in one process; its ran/skipped lines are printed here.

# ctest_suite LABEL BUILD [PATH...]: each PATH must be among the paths test_kernel_paths ran
# (so an emulator or a detection bug cannot silently drop a path).
ctest_suite() {
  local label=$1 build=$2 ran p
  shift 2
  echo "== $label ctest"
  env -u FDAL_KERNELS ctest --test-dir "$build/csrc" --output-on-failure -j "$JOBS"
  # ctest keeps every test's output in this log.
  ran=$(grep -h "^kernel paths checked:" "$build/csrc/Testing/Temporary/LastTest.log")
  grep -h "^kernel paths" "$build/csrc/Testing/Temporary/LastTest.log" | sed "s/^/   ($label) /"
  for p in "$@"; do
    case " ${ran#*:} " in
      *" $p "*) ;;
      *) echo "$(basename "$0"): $label: kernel path '$p' was not checked" >&2; exit 1 ;;
    esac
  done
}
