"""`fdal.cli.main` run in-process (no subprocess per case), shared by the CLI and hardening tests."""
from __future__ import annotations

from fdal.cli import main


def run(capsys, *argv):
    """(exit code, stdout, stderr) of `fdal ARGV`; argparse's SystemExit counts as an exit code."""
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:  # argparse refusing a flag's value
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err
