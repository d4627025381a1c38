"""What a CI run must not skip, checked once before the tests run (tests/conftest.py).

A test that skips when something is missing is right on a user's machine and wrong in CI: if torch
failed to import, a third of the suite would skip and CI would stay green; if CPU detection broke,
the SIMD kernel paths would skip by name. CI (.ci/run) therefore sets

    FDAL_REQUIRE_TORCH=1        torch must import
    FDAL_REQUIRE_PATHS=auto     every kernel path that /proc/cpuinfo says this CPU has must be
                                runnable (or a comma-separated list of path names)
    FDAL_REQUIRE_MODULES=a,b    these modules must import: what the extras CI installs provide and
                                tests importorskip (scipy.io for SVHN, PIL, sklearn, ...)

and the session stops with one line naming what is missing. Unset, nothing is required.
"""
from __future__ import annotations

import importlib
import os
from pathlib import Path

# The kernel paths of csrc/kernels/kernel_paths.cpp and the /proc/cpuinfo flags each needs (the
# same features cpu_features.cpp reads from cpuid; the OS-state check is the kernel's, implied by
# the flag being listed).
X86_PATH_FLAGS = {
    "avx512vnni": {"avx2", "avx512f", "avx512bw", "avx512vl", "avx512_vnni"},
    "avx2": {"avx2"},
}
ALWAYS = ("portable", "reference")


def cpu_flags(cpuinfo: str) -> set:
    for line in cpuinfo.splitlines():
        if line.startswith(("flags", "Features")):
            return set(line.split(":", 1)[1].split())
    return set()


def expected_paths(cpuinfo: str) -> list:
    """The paths this CPU must run, from its /proc/cpuinfo text (x86 flags; the ARM paths are
    required by .ci/arm_tests.sh, which knows what each emulated CPU has)."""
    flags = cpu_flags(cpuinfo)
    return [p for p, need in X86_PATH_FLAGS.items() if need <= flags] + list(ALWAYS)


def problems(environ=os.environ) -> list:
    """One line per unmet requirement."""
    out = []
    if environ.get("FDAL_REQUIRE_TORCH") == "1":
        try:
            import torch  # noqa: F401
        except Exception as exc:  # an ImportError, or a broken wheel's OSError
            out.append(f"FDAL_REQUIRE_TORCH=1 but torch does not import: {type(exc).__name__}: {exc}")
    for name in [m.strip() for m in environ.get("FDAL_REQUIRE_MODULES", "").split(",") if m.strip()]:
        try:
            importlib.import_module(name)
        except Exception as exc:
            out.append(f"FDAL_REQUIRE_MODULES: {name} does not import: {type(exc).__name__}: {exc}")
    want = environ.get("FDAL_REQUIRE_PATHS", "")
    if want:
        import fdal

        if want == "auto":
            cpuinfo = Path("/proc/cpuinfo")
            names = expected_paths(cpuinfo.read_text()) if cpuinfo.exists() else list(ALWAYS)
        else:
            names = [p.strip() for p in want.split(",") if p.strip()]
        built = fdal.kernel_paths(runnable_only=False)
        runnable = fdal.kernel_paths()
        for name in names:
            if name not in built:
                out.append(f"FDAL_REQUIRE_PATHS: kernel path {name!r} is not in this build (built: {', '.join(built)})")
            elif name not in runnable:
                out.append(f"FDAL_REQUIRE_PATHS: this CPU should run kernel path {name!r} but the runtime "
                           f"says it cannot (runnable: {', '.join(runnable)})")
    return out
