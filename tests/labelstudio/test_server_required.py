"""CI must not skip the Label Studio tests: with CI=true or FDAL_REQUIRE_LABEL_STUDIO=1 a server
that cannot start fails them; elsewhere a missing venv skips them with the reason."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent


@pytest.mark.parametrize("required", [{"FDAL_REQUIRE_LABEL_STUDIO": "1"}, {"CI": "true"}, {}])
def test_missing_venv_fails_in_ci_and_skips_elsewhere(tmp_path, required):
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "FDAL_REQUIRE_LABEL_STUDIO")}
    env.update(required, FDAL_LS_VENV=str(tmp_path / "no-venv"))
    test = f"{HERE / 'test_client.py'}::test_project_errors"
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", test],
                          cwd=HERE.parent.parent, env=env, capture_output=True, text=True, timeout=300)
    out = proc.stdout + proc.stderr
    if required:
        assert proc.returncode == 1 and "Label Studio did not start: no Label Studio venv at" in out, out
    else:
        assert proc.returncode == 0 and "1 skipped" in out and "no Label Studio venv at" in out, out
