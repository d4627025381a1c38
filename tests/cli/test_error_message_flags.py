"""Error messages that name a command-line flag name a real one of that command."""
import argparse
import re

import pytest

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch

from fdal.cli import build_parser  # noqa: E402
from fdal.training import runner  # noqa: E402
from fdal.training.data import load_dataset, prepare_cifar10_jpeg  # noqa: E402
from fdal.training.protocols import Protocol  # noqa: E402
from fdal.training.student_training import FdalConfig  # noqa: E402


def command_flags(command: str) -> set:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return {s for action in sub.choices[command]._actions for s in action.option_strings}


def assert_named_flags_exist(message: str, expected_commands: set):
    """Every `fdal COMMAND ... --flag` quoted in message names a flag COMMAND has; an unquoted
    --flag is one of the expected commands'."""
    quoted = re.findall(r"`fdal ([a-z-]+)([^`]*)`", message)
    assert {c for c, _ in quoted} == expected_commands, message
    for command, rest in quoted:
        for flag in re.findall(r"--[a-z][a-z0-9-]*", rest):
            assert flag in command_flags(command), f"`fdal {command}` has no {flag}: {message}"
    bare = re.findall(r"(?<![\w/`])--[a-z][a-z0-9-]*", re.sub(r"`[^`]*`", "", message))
    known = set().union(*(command_flags(c) for c in expected_commands))
    assert set(bare) <= known, f"{set(bare) - known} outside a quoted command: {message}"


def test_missing_dataset_files_name_the_real_download_flag(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        load_dataset("cifar10", str(tmp_path))
    assert_named_flags_exist(str(err.value), {"train-teacher"})


def test_missing_jpeg_copy_names_the_real_source_flag(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        prepare_cifar10_jpeg(str(tmp_path / "out"), str(tmp_path / "nowhere"))
    assert_named_flags_exist(str(err.value), {"prepare-data"})


def test_protocol_mismatch_names_the_real_no_resume_flag(tmp_path):
    tiny = Protocol("tiny", "synthetic", 20, 20, 40, subset=30, train=FdalConfig(batch_size=16).scaled(1),
                    seed=3, synthetic=(4, 80, 20))
    runner.run_protocol(tiny, ["random"], None, tmp_path, progress=False)
    with pytest.raises(ValueError, match="different protocol") as err:
        runner.run_protocol(tiny.replace(subset=20), ["random"], None, tmp_path, progress=False)
    assert_named_flags_exist(str(err.value), {"al"})
