"""Plant known bugs, one at a time, in a temporary copy of the tree and say which the tests catch.

    python benchmarks/mutations.py                 # every mutation; prints a markdown table
    python benchmarks/mutations.py --only crc_off  # some of them (comma-separated names)

A test suite that passes is only as good as the bugs it would fail on. Each mutation below is a
realistic one-line slip; a mutation is *caught* when its tests fail (exit code 1) after it is
planted and pass before. Native mutations rebuild the C++ library and its ctest suite in the copy
(cmake + ninja) and run ctest; Python mutations run pytest on the copy's sources with the copy's
package first on the import path (an editable install's redirect is removed in that process; tests
that start `fdal` in a subprocess still see the installed package, so they cannot catch a mutation
here: a miss means "not caught by in-process tests"). The working tree is never modified.
"""
from __future__ import annotations

import argparse
import dataclasses
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclasses.dataclass(frozen=True)
class Mutation:
    name: str
    what: str
    file: str      # relative to the repository root
    old: str       # must occur exactly once
    new: str
    tests: tuple   # pytest paths (Python mutations) or ctest -R regexes (native ones)
    native: bool = False


MUTATIONS = (
    Mutation("tie_rounding", "negative exact ties rounded away from zero (reference requantization)",
             "csrc/kernels/reference/requantize.h",
             "  std::int64_t t = ((product + rounding) >> shift) + zero_point;",
             "  std::int64_t t = ((product + rounding) >> shift) + zero_point;\n"
             "  if (product < 0 && (product & ((std::int64_t(1) << shift) - 1)) == rounding) t -= 1;",
             ("test_kernel_paths",), native=True),
    Mutation("crc_off", "the loader's CRC check skipped", "csrc/format/loader.cpp",
             "  check_crc(b, size);", "  (void)0;", ("test_loader",), native=True),
    Mutation("unstable_sort", "the oracle's ranking sort not stable (ties in another order)",
             "python/fdal/oracle/ranking.py", 'return np.argsort(all_keys, kind="stable")[:k]',
             'return np.argsort(all_keys, kind="quicksort")[:k]',
             ("tests/runtime/test_oracle.py", "tests/runtime/test_runtime_rank.py")),
    Mutation("random_with_replacement", "random sampling with replacement (the reference harness's bug)",
             "training/strategies/random.py", "replace=False", "replace=True",
             ("tests/training/test_strategies.py",)),
    Mutation("std_n", "std over n instead of n - 1", "training/analysis.py",
             "/ (len(values) - 1)) if len(values) > 1", "/ len(values)) if len(values) > 1",
             ("tests/training/test_results_analysis.py",)),
    Mutation("rank_seed_ignored", "`fdal rank --seed` ignored", "python/fdal/cli/rank.py",
             "strategy=args.strategy, batch_size=args.batch_size, seed=args.seed,",
             "strategy=args.strategy, batch_size=args.batch_size, seed=0,", ("tests/cli",)),
    Mutation("pool_3d_dropped", "3-D one-channel .npy pools no longer accepted", "python/fdal/cli/pools.py",
             "if pool.ndim == 3 and c == 1:", "if False:", ("tests/cli",)),
)

# Run in the pytest process: drop the editable install's finder so that `import fdal` reads the copy.
PYTEST_IN_COPY = """
import sys
sys.meta_path[:] = [f for f in sys.meta_path if not type(f).__module__.startswith("_editable")]
sys.path.insert(0, {python!r})
import pytest
sys.exit(pytest.main(["-q", "-x", "-p", "no:cacheprovider", *{tests!r}]))
"""


def copy_tree(dest: Path) -> None:
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, check=True, capture_output=True).stdout
    for rel in filter(None, files.decode().split("\0")):
        src = ROOT / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    # The copy imports as the package: fdal.training lives in training/ (wheel.packages), and the
    # native extension is the installed one (Python mutations do not touch C++).
    (dest / "python" / "fdal" / "training").symlink_to(dest / "training", target_is_directory=True)
    import fdal._core as core
    shutil.copy2(core.__file__, dest / "python" / "fdal" / Path(core.__file__).name)


def run_tests(copy: Path, m: Mutation, build: Path) -> int:
    if m.native:
        r = subprocess.run(["cmake", "--build", str(build), "-j", "2"], capture_output=True, text=True)
        if r.returncode != 0:
            return 3  # does not compile: not a useful mutation
        return subprocess.run(["ctest", "--test-dir", str(build / "csrc"), "-R", "|".join(m.tests)],
                              capture_output=True).returncode and 1
    code = PYTEST_IN_COPY.format(python=str(copy / "python"), tests=[str(copy / t) for t in m.tests])
    return subprocess.run([sys.executable, "-c", code], cwd=copy, capture_output=True).returncode


def plant(copy: Path, m: Mutation) -> str:
    path = copy / m.file
    text = path.read_text()
    if text.count(m.old) != 1:
        raise SystemExit(f"mutations: {m.name}: the line to mutate occurs {text.count(m.old)} times in {m.file}")
    path.write_text(text.replace(m.old, m.new))
    return text


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="comma-separated mutation names (default: all): "
                        + ", ".join(m.name for m in MUTATIONS))
    args = parser.parse_args(argv)
    chosen = MUTATIONS
    if args.only:
        names = args.only.split(",")
        unknown = set(names) - {m.name for m in MUTATIONS}
        if unknown:
            parser.error(f"unknown mutation(s): {', '.join(sorted(unknown))}")
        chosen = tuple(m for m in MUTATIONS if m.name in names)
    rows = []
    with tempfile.TemporaryDirectory(prefix="fdal-mutations-") as tmp:
        copy, build = Path(tmp) / "tree", Path(tmp) / "build"
        copy_tree(copy)
        if any(m.native for m in chosen):
            subprocess.run(["cmake", "-S", str(copy), "-B", str(build), "-G", "Ninja", "-DCMAKE_BUILD_TYPE=Release",
                            "-DFDAL_BUILD_TOOLS=ON", "-DFDAL_BUILD_TESTS=ON"], check=True, capture_output=True)
        for m in chosen:
            t0 = time.perf_counter()
            baseline = run_tests(copy, m, build)
            original = plant(copy, m)
            try:
                mutated = run_tests(copy, m, build)
            finally:
                (copy / m.file).write_text(original)
            verdict = ("tests fail without the mutation" if baseline != 0 else
                       "caught" if mutated == 1 else "does not compile" if mutated == 3 else
                       "NOT caught" if mutated == 0 else f"error (exit {mutated})")
            rows.append((m, verdict, time.perf_counter() - t0))
            print(f"{m.name}: {verdict}", file=sys.stderr, flush=True)
    print("| mutation | planted in | tests run | result |")
    print("|---|---|---|---|")
    for m, verdict, _ in rows:
        print(f"| {m.name}: {m.what} | `{m.file}` | {', '.join(m.tests)} | {verdict} |")
    return 0 if all(v == "caught" for _, v, _ in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
