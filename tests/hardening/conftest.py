"""Shared files for the hardening tests (issue 34): small seeded models and pools on disk; and the
catalogue's totals table (FDAL_CATALOGUE_TOTALS=1). Helpers are in hardening_helpers.py."""
from __future__ import annotations

import numpy as np
import pytest

from fdal import format as fmt
from fdal import testing
from .hardening_helpers import SHAPE


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


def pytest_terminal_summary(terminalreporter):
    """FDAL_CATALOGUE_TOTALS=1: the catalogue's totals as the markdown table of docs/hardening.md
    (cases per file; `refuse` in a case's id marks an expected refusal, every other case checks a
    right answer against its reference)."""
    import os
    if not os.environ.get("FDAL_CATALOGUE_TOTALS"):
        return
    rows = {}
    for outcome in ("passed", "failed", "skipped", "error"):
        for report in terminalreporter.stats.get(outcome, []):
            nodeid = getattr(report, "nodeid", "")
            if "tests/hardening/" not in nodeid or getattr(report, "when", "call") not in ("call", "setup"):
                continue
            if outcome == "passed" and report.when != "call":
                continue
            name = nodeid.split("::")[0].rsplit("/", 1)[-1]
            kind = "refusals" if "refuse" in nodeid else "right answers"
            row = rows.setdefault(name, {})
            row[(kind, outcome)] = row.get((kind, outcome), 0) + 1
    write = terminalreporter.write_line
    write("")
    write("| file | right answers (passed) | refusals (passed) | failed | skipped |")
    write("|---|---|---|---|---|")
    totals = [0, 0, 0, 0]
    for name in sorted(rows):
        r = rows[name]
        cells = [r.get(("right answers", "passed"), 0), r.get(("refusals", "passed"), 0),
                 sum(v for (k, o), v in r.items() if o in ("failed", "error")),
                 sum(v for (k, o), v in r.items() if o == "skipped")]
        totals = [a + b for a, b in zip(totals, cells)]
        write(f"| {name} | " + " | ".join(str(c) for c in cells) + " |")
    write("| **total** | " + " | ".join(f"**{c}**" for c in totals) + " |")
