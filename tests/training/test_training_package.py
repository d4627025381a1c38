"""The package boundary: `import fdal` stays torch-free; `import fdal.training` gives every submodule."""
import subprocess
import sys

import pytest


def _run(code: str) -> None:
    # A fresh interpreter: in this one, other tests have imported torch and the submodules already.
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]


def test_import_fdal_does_not_import_torch():
    _run("import sys, fdal\n"
         "assert 'torch' not in sys.modules, 'import fdal imported torch'\n"
         "assert not any(m.startswith('fdal.training') for m in sys.modules)")


def test_training_submodules_need_no_prior_import():
    pytest.importorskip("torch")
    _run("import fdal.training as ft\n"
         "ft.strategies.select, ft.runner.run_protocol, ft.checkpoint.load_checkpoint, ft.models.LossNet\n"
         "assert ft.export is ft.int8_export.export and ft.compare is ft.parity.compare\n"
         "missing = [name for name in ft.__all__ if not hasattr(ft, name)]\n"
         "assert not missing, missing\n"
         "import sys\n"
         "assert 'matplotlib' not in sys.modules, 'import fdal.training imported matplotlib'")
