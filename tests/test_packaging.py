"""Packaging: one version (pyproject.toml's [project].version, read by CMake and by
fdal.__version__), the typing files in the package, and `pip install -e .`, which must map `fdal`
to python/fdal and `fdal.training` to training/ (wheel.packages in pyproject.toml)."""
import ast
import importlib.metadata
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import fdal
from fdal.cli import main

ROOT = Path(__file__).resolve().parents[1]
# Kept between runs so that a second run rebuilds the extension incrementally; separate from the
# build/{wheel_tag} of regular installs, whose cache may point at an isolated build environment.
EDITABLE_BUILD = ROOT / "build" / "pytest-editable"


def pyproject_version() -> str:
    tomllib = pytest.importorskip("tomllib" if sys.version_info >= (3, 11) else "tomli")
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


def test_version_is_pyprojects():
    assert fdal.__version__ == importlib.metadata.version("fdal") == pyproject_version()


def test_cmake_fallback_reads_the_same_line():
    # CMakeLists.txt, without scikit-build-core: the first line matching this REGEX, then its number.
    lines = [line for line in (ROOT / "pyproject.toml").read_text().splitlines()
             if re.match(r'^version = "[0-9]+(\.[0-9]+)*"', line)]
    assert len(lines) == 1, lines
    assert re.search(r"[0-9]+(\.[0-9]+)*", lines[0]).group(0) == pyproject_version()
    assert "SKBUILD_PROJECT_VERSION" in (ROOT / "CMakeLists.txt").read_text()


def test_cli_prints_the_version(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"fdal {fdal.__version__}"


def test_package_ships_its_typing_files():
    package = Path(fdal.__file__).parent
    assert (package / "py.typed").is_file()
    stub = ast.parse((package / "_core.pyi").read_text())
    from fdal import _core
    exported = {name for name in dir(_core) if not name.startswith("__")}
    declared = {node.target.id if isinstance(node, ast.AnnAssign) else node.name for node in stub.body
                if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AnnAssign))}
    assert declared == exported


def _editable_tools_missing():
    if importlib.util.find_spec("venv") is None or importlib.util.find_spec("ensurepip") is None:
        return "needs the venv and ensurepip modules"
    if shutil.which("cmake") is None and importlib.util.find_spec("cmake") is None:
        return "needs cmake"
    return None


@pytest.mark.slow
@pytest.mark.skipif(_editable_tools_missing() is not None, reason=str(_editable_tools_missing()))
def test_editable_install_maps_the_source_tree(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True,
                   capture_output=True)
    python = str(venv / "bin" / "python")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "PIP_"))}
    env.update(PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1")  # nothing may be downloaded
    has = subprocess.run([python, "-c", "import scikit_build_core, pybind11"], env=env, capture_output=True)
    if has.returncode != 0:
        pytest.skip("scikit-build-core and pybind11 must be installed (pip install '.[test]')")
    install = subprocess.run(
        [python, "-m", "pip", "install", "-q", "--no-build-isolation", "--no-deps",
         f"--config-settings=build-dir={EDITABLE_BUILD}/{{wheel_tag}}", "-e", str(ROOT)],
        env=env, capture_output=True, text=True)
    assert install.returncode == 0, install.stdout[-3000:] + install.stderr[-3000:]

    # A fresh interpreter outside the source tree, so that only the installed mapping can resolve.
    probe = textwrap.dedent("""
        import importlib.util, json
        import fdal, fdal._core
        training = importlib.util.find_spec("fdal.training")
        try:
            import torch  # noqa: F401
        except ImportError:
            strategies = None
        else:
            import fdal.training.strategies as ft_strategies
            strategies = ft_strategies.__file__
        print(json.dumps({"fdal": fdal.__file__, "core": fdal._core.__file__, "training": training.origin,
                          "strategies": strategies, "version": fdal.__version__,
                          "core_strategies": list(fdal._core.STRATEGIES)}))
    """)
    run = subprocess.run([python, "-c", probe], env=env, cwd=tmp_path, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-3000:]
    got = json.loads(run.stdout.strip().splitlines()[-1])
    assert Path(got["fdal"]) == ROOT / "python" / "fdal" / "__init__.py"
    assert Path(got["training"]) == ROOT / "training" / "__init__.py"
    if got["strategies"] is not None:
        assert Path(got["strategies"]) == ROOT / "training" / "strategies" / "__init__.py"
    assert Path(got["core"]).name.startswith("_core")
    assert got["version"] == pyproject_version()
    assert got["core_strategies"] == list(fdal.STRATEGIES)


def test_installed_fdal_command_is_the_cli(tmp_path):
    """The console script pip writes ([project.scripts]) runs the same main() the other tests call:
    an entry point naming a moved function would break only this."""
    exe = shutil.which("fdal")
    if exe is None:
        pytest.skip("no `fdal` command on PATH (the package is not installed with its scripts)")
    from fdal import format as fmt
    from fdal import testing
    model = tmp_path / "m.fdal"
    fmt.write_model(testing.random_model(2, "tiny", n_calibration=8), model)
    r = subprocess.run([exe, "info", str(model)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert str(model) in r.stdout and "classes" in r.stdout
    r = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and fdal.__version__ in r.stdout + r.stderr
