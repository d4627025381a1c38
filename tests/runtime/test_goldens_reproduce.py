"""csrc/tests/make_goldens.py regenerates the committed goldens byte for byte: the C++ suite (and
the ARM runs under qemu) check exactly what the numpy oracle computes today, not what an older
oracle once wrote."""
from __future__ import annotations

import runpy
from pathlib import Path

GOLDEN = Path(__file__).resolve().parents[2] / "csrc" / "tests" / "golden"


def test_make_goldens_reproduces_the_committed_files(tmp_path):
    make = runpy.run_path(str(GOLDEN.parent / "make_goldens.py"))
    make["main"](["--out", str(tmp_path)])
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written == sorted(p.name for p in GOLDEN.iterdir())
    changed = [name for name in written if (tmp_path / name).read_bytes() != (GOLDEN / name).read_bytes()]
    assert not changed, f"make_goldens.py now writes other bytes for {changed}: rerun it and review the change"
