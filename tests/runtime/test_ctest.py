"""Builds the C++ library, fdal-rank and the ctest suite natively and runs ctest.

Skipped when cmake, a C++ compiler or the cmake build tool is missing. Cross builds and qemu runs
live in .ci/arm_tests.sh (too slow for pytest).
"""
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# With Ninja this is .ci/native_ctest.sh's build directory and configuration, so CI builds the C++
# suite once and the script's build is incremental; without Ninja a separate directory avoids a
# generator clash with that script.
BUILD = ROOT / "build" / ("ctest-native" if shutil.which("ninja") else "pytest-ctest")


def _missing_tools():
    return [t for t in ("cmake", "ctest", "c++") if shutil.which(t) is None]


@pytest.mark.slow
@pytest.mark.skipif(bool(_missing_tools()), reason="needs cmake, ctest and a C++ compiler")
def test_native_ctest_passes():
    generator = ["-G", "Ninja"] if shutil.which("ninja") else []
    env = dict(os.environ)
    env.pop("FDAL_KERNELS", None)  # the dispatcher's own choice
    subprocess.run(["cmake", "-S", str(ROOT), "-B", str(BUILD), *generator, "-DCMAKE_BUILD_TYPE=Release",
                    "-DFDAL_BUILD_TOOLS=ON", "-DFDAL_BUILD_TESTS=ON"], check=True, capture_output=True, env=env)
    build = subprocess.run(["cmake", "--build", str(BUILD), "-j", "2"], capture_output=True, text=True, env=env)
    assert build.returncode == 0, build.stdout[-4000:] + build.stderr[-4000:]
    result = subprocess.run(["ctest", "--test-dir", str(BUILD / "csrc"), "--output-on-failure", "-j", "2"],
                            capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "100% tests passed" in result.stdout
