"""Helpers of the hardening tests (issue 34), imported by name (a test file importing from
`conftest` would shadow tests/conftest.py): SHAPE, and `run`, which calls `fdal.cli.main`
in-process (no subprocess per case) and returns (exit code, stdout, stderr)."""
from __future__ import annotations

from fdal.cli import main

SHAPE = (8, 8, 3)  # small images: every case decodes and ranks in milliseconds


def run(capsys, *argv):
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:  # argparse refusing a flag's value
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err
