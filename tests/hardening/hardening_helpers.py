"""Helpers of the hardening tests (issue 34), imported by name (a test file importing from
`conftest` would shadow tests/conftest.py): SHAPE, and `run` (tests/cli_in_process.py: `fdal.cli.main`
in-process, returning (exit code, stdout, stderr))."""
from __future__ import annotations

from cli_in_process import run  # noqa: F401  (re-exported: the hardening tests import it from here)

SHAPE = (8, 8, 3)  # small images: every case decodes and ranks in milliseconds
