"""Shared files for the hardening tests (issue 34): small seeded models and pools on disk, and
`run`, which calls `fdal.cli.main` in-process (no subprocess per case) and returns (exit code,
stdout, stderr)."""
from __future__ import annotations

import numpy as np
import pytest

from fdal import format as fmt
from fdal import testing
from fdal.cli import main

SHAPE = (8, 8, 3)  # small images: every case decodes and ranks in milliseconds


def run(capsys, *argv):
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:  # argparse refusing a flag's value
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="session")
def hard_files(tmp_path_factory):
    """m.fdal (tiny, 8x8x3, sampler + student embedding), gray.fdal (8x8x1), pool.npy (40 images),
    other.npy (40 other images: same size, another pool), pool.raw (pool.npy's bytes)."""
    d = tmp_path_factory.mktemp("hardening")
    fmt.write_model(testing.random_model(21, "tiny", input_shape=SHAPE, embedding="student", n_calibration=32),
                    d / "m.fdal")
    fmt.write_model(testing.random_model(22, "tiny", input_shape=(8, 8, 1), n_calibration=32), d / "gray.fdal")
    pool = testing.random_images(23, 40, SHAPE)
    np.save(d / "pool.npy", pool)
    np.save(d / "other.npy", testing.random_images(24, 40, SHAPE))
    (d / "pool.raw").write_bytes(pool.tobytes())
    return d
