"""Flags shared by the subcommands, so each means the same thing everywhere."""
from __future__ import annotations

import argparse
import errno
import os
import re
import sys


def add_parser(sub, name: str, help: str, description: str, example: str) -> argparse.ArgumentParser:
    """A subcommand parser whose --help ends with an example."""
    return sub.add_parser(name, help=help, description=description,
                          epilog="example:\n" + "\n".join("  " + line.lstrip() for line in example.strip().splitlines()),
                          formatter_class=argparse.RawDescriptionHelpFormatter)


def add_seed(p, default=0):
    meaning = "the preset's own seed" if default is None else default
    p.add_argument("--seed", type=int, default=default, help=f"random seed (default {meaning})")


def add_out(p, help: str, required=False, default=None):
    p.add_argument("--out", "-o", required=required, default=default, help=help)


def add_data_dir(p, help: str = "dataset folder (official layout)", required=False):
    p.add_argument("--data-dir", required=required, default=None, help=help)


def add_device(p):
    p.add_argument("--device", default=None,
                   help="torch device for training: cpu, cuda, cuda:1 (default: cuda if available)")


def add_threads(p):
    p.add_argument("--threads", type=thread_count, default=None, help="torch CPU threads (default: torch's choice)")


def thread_count(text: str) -> int:
    """--threads: an integer in 1..MAX_THREADS (the runtime's bound, also used for torch)."""
    from fdal.runtime import MAX_THREADS
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer in 1..{MAX_THREADS}, got {text!r}") from None
    if not 1 <= value <= MAX_THREADS:
        raise argparse.ArgumentTypeError(f"expected an integer in 1..{MAX_THREADS}, got {value}")
    return value


# More worker processes than this is a typo (each loads torch and the dataset): --jobs refuses it.
MAX_JOBS = 256


def job_count(text: str) -> int:
    """--jobs: an integer in 1..MAX_JOBS worker processes."""
    expected = f"expected a number of worker processes in 1..{MAX_JOBS}"
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{expected}, got {text!r}") from None
    if not 1 <= value <= MAX_JOBS:
        raise argparse.ArgumentTypeError(f"{expected}, got {value}")
    return value


def raw_shape(text: str) -> tuple:
    """--raw HxWxC: the shape of each image of a raw pool."""
    try:
        dims = tuple(int(v) for v in text.lower().split("x"))
    except ValueError:
        dims = ()
    if len(dims) != 3 or min(dims) <= 0:
        raise argparse.ArgumentTypeError(f"expected HxWxC such as 32x32x3, got {text!r}")
    return dims


def count_list(text: str) -> list:
    """--labeled-counts 12,40,3: non-negative integers, one per class."""
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        values = []
    if not values or min(values) < 0:
        raise argparse.ArgumentTypeError(f"expected comma-separated non-negative integers, one per class, "
                                         f"such as 12,40,3, got {text!r}")
    return values


def positive_int(text: str) -> int:
    """A positive integer below 2^63 (counts and sizes are int64 in the runtime)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    if value >= 2**63:
        raise argparse.ArgumentTypeError(f"expected a positive integer below 2^63, got {value}")
    return value


def require_file(path: str, what: str) -> None:
    """Raise FileNotFoundError ("fdal: error: PATH: No such file (WHAT)") unless `path` is a file;
    the one wording every subcommand uses for a missing input."""
    if os.path.isdir(path):
        raise IsADirectoryError(errno.EISDIR, f"is a directory, expected a file ({what})", path)
    if os.path.exists(path) and not os.path.isfile(path):
        # A FIFO or /dev/stdin can be read only once and has no size; pools are memory-mapped.
        raise ValueError(f"{path}: not a regular file ({what}); save it to a file first")
    if not os.path.isfile(path):
        raise FileNotFoundError(errno.ENOENT, f"No such file ({what})", path)


def require_dir(path: str, what: str) -> None:
    """Like require_file, for a folder."""
    if not os.path.isdir(path):
        raise FileNotFoundError(errno.ENOENT, f"No such directory ({what})", path)


def torch_setup(args):
    """Import torch, apply --threads, resolve --device; returns (torch, device string)."""
    from .errors import require_torch
    torch = require_torch()
    if getattr(args, "threads", None):
        torch.set_num_threads(args.threads)
    device = getattr(args, "device", None) or ("cuda" if torch.cuda.is_available() else "cpu")
    try:
        torch.device(device)
    except RuntimeError:
        raise ValueError(f"--device {device}: not a torch device (cpu, cuda, cuda:1)") from None
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"--device {device}: CUDA is not available on this machine")
    return torch, device


def refuse_overwriting_inputs(outputs, inputs) -> None:
    """ValueError when an output path (flag -> path) names an input file (what -> path or a list of
    paths): `--out pool.npy` would replace the pool with the picks. Paths are compared by the file
    they resolve to (symlinks, ./ and .. included)."""
    real_inputs = {}
    for what, paths in inputs.items():
        for path in ([paths] if isinstance(paths, (str, os.PathLike)) else paths or ()):
            real_inputs.setdefault(os.path.realpath(path), (what, path))
    for flag, out in outputs.items():
        if out and os.path.realpath(out) in real_inputs:
            what, path = real_inputs[os.path.realpath(out)]
            raise ValueError(f"{flag} {out} is the {what} {path}: it would be overwritten; write to another file")


def attach_negative_values(parser: argparse.ArgumentParser, argv) -> list:
    """argv with `--flag -1/3` written as `--flag=-1/3` for flags that take a value: argparse reads a
    token like -1/3 or -1,0,0 as an unknown option and says only "expected one argument", where the
    flag's own check names the problem (I must be in 0..2, counts must be non-negative)."""
    takes_value = set()
    for sub in parser._subparsers._group_actions if parser._subparsers else ():
        for command in sub.choices.values():
            for action in command._actions:
                if action.nargs is None and action.option_strings:
                    takes_value.update(o for o in action.option_strings if o.startswith("--"))
    out = list(argv)
    i = 0
    while i < len(out) - 1:
        if out[i] in takes_value and re.match(r"^-[0-9.]", out[i + 1]):
            out[i:i + 2] = [f"{out[i]}={out[i + 1]}"]
        i += 1
    return out


class ClosedStdout:
    """sys.stdout when the shell closed it (`fdal rank ... >&-`): Python sets sys.stdout to None, and
    the first print would raise AttributeError. Writing raises an OSError that main() reports."""

    def write(self, text):
        from .errors import CliError
        if text:
            raise CliError("standard output is closed, so the results cannot be printed; write them to a file "
                           "with --out (or leave stdout open)")
        return 0

    def flush(self):
        pass


def guard_closed_stdout() -> None:
    if sys.stdout is None:
        sys.stdout = ClosedStdout()


def load_model(path: str):
    """fdal.load(path) for a subcommand: a missing file or a damaged .fdal is one line naming the file."""
    import fdal
    require_file(path, "model")
    try:
        return fdal.load(path)
    except fdal.FormatError as exc:
        raise fdal.FormatError(f"{path}: {exc}") from None
