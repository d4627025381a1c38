"""How the `fdal` command reports problems: user errors as one line, real bugs as tracebacks.

User errors (a missing file, a bad .fdal file, a bad k, an unknown preset) raise ValueError,
OSError or CliError somewhere below; main() prints `fdal: error: <one line>` and exits 1.
Anything else is a bug and keeps its traceback. `--debug` shows tracebacks for everything.
"""
from __future__ import annotations

import sys

TORCH_MESSAGE = 'fdal: this command needs PyTorch: pip install "fdal[train]"'
EXIT_USER_ERROR = 1
EXIT_NEEDS_TORCH = 2


class CliError(Exception):
    """A user error with a message meant for the terminal."""


class NeedsTorch(Exception):
    """A training-side command was run where PyTorch is not installed."""


def require_torch():
    """Import torch (or raise NeedsTorch) before a subcommand touches fdal.training."""
    try:
        import torch
    except ImportError:
        raise NeedsTorch() from None
    return torch


def one_line(exc: BaseException) -> str:
    """The exception's message on one line (multi-line messages are joined with '; ')."""
    if isinstance(exc, OSError) and exc.filename is not None and exc.strerror:
        text = f"{exc.filename}: {exc.strerror}"
    else:
        text = str(exc) or type(exc).__name__
    # Indented lines (e.g. a list of missing files) join their header with ", ", others with "; ".
    parts = []
    for line in text.splitlines():
        if not line.strip():
            continue
        if parts and line[:1].isspace():
            parts[-1] += (" " if parts[-1].endswith(":") else ", ") + line.strip()
        else:
            parts.append(line.strip())
    return "; ".join(parts)


def report(exc: BaseException) -> int:
    """Print the one-line message for a user error and return the exit code."""
    if isinstance(exc, NeedsTorch):
        print(TORCH_MESSAGE, file=sys.stderr)
        return EXIT_NEEDS_TORCH
    print(f"fdal: error: {one_line(exc)}", file=sys.stderr)
    # Some errors (no input images at all) carry their own code, e.g. fdal.image_folder.NoImages: 2.
    return int(getattr(exc, "exit_code", EXIT_USER_ERROR))
