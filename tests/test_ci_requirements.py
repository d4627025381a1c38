"""tests/ci_requirements.py: CI fails, instead of skipping, when torch or an expected kernel path
is missing."""
from __future__ import annotations

import sys

import fdal
from ci_requirements import expected_paths, problems

EPYC = "processor : 0\nflags : fpu sse2 avx avx2 fma avx512f avx512bw avx512vl avx512_vnni\n"
AVX2_ONLY = "flags : fpu sse2 avx avx2 fma\n"
OLD = "flags : fpu sse2\n"


def test_expected_paths_follow_the_cpu_flags():
    assert expected_paths(EPYC) == ["avx512vnni", "avx2", "portable", "reference"]
    assert expected_paths(AVX2_ONLY) == ["avx2", "portable", "reference"]
    assert expected_paths(OLD) == ["portable", "reference"]
    # avx512_vnni without the AVX-512 base the kernels also use: not expected
    assert expected_paths("flags : avx2 avx512_vnni\n") == ["avx2", "portable", "reference"]


def test_nothing_required_when_unset():
    assert problems({}) == []


def test_a_path_the_runtime_cannot_run_is_a_problem():
    runnable = fdal.kernel_paths()
    assert problems({"FDAL_REQUIRE_PATHS": ",".join(runnable)}) == []
    missing = [p for p in fdal.kernel_paths(runnable_only=False) if p not in runnable]
    for name in missing:
        (line,) = problems({"FDAL_REQUIRE_PATHS": name})
        assert repr(name) in line and "cannot" in line
    (line,) = problems({"FDAL_REQUIRE_PATHS": "sve2"})
    assert "'sve2' is not in this build" in line


def test_torch_that_does_not_import_is_a_problem(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch now raises ImportError
    (line,) = problems({"FDAL_REQUIRE_TORCH": "1"})
    assert line.startswith("FDAL_REQUIRE_TORCH=1 but torch does not import: ModuleNotFoundError")
    assert problems({}) == []


def test_a_required_module_that_does_not_import_is_a_problem(monkeypatch):
    monkeypatch.setitem(sys.modules, "scipy.io", None)
    (line,) = problems({"FDAL_REQUIRE_MODULES": "numpy, scipy.io"})
    assert line.startswith("FDAL_REQUIRE_MODULES: scipy.io does not import: ModuleNotFoundError")
    assert problems({"FDAL_REQUIRE_MODULES": "numpy"}) == []
