"""`fdal cycle` and each of its steps: --help ends with an example of that step."""
import pytest

from fdal.cli import main


@pytest.mark.parametrize("step", [None, "init", "pick", "import", "train", "status", "example"])
def test_help_has_an_example(step, capsys):
    argv = ["cycle"] + ([step] if step else [])
    with pytest.raises(SystemExit) as exc:
        main(argv + ["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "example:" in out and f"fdal {' '.join(argv)}" in out.split("example:")[1]


def test_cycle_without_a_step_prints_help(capsys):
    assert main(["cycle"]) == 2
    assert "<step>" in capsys.readouterr().out
