"""Where the tests find the native command-line tool fdal-rank: $FDAL_RANK, the ctest build
folders of a checkout (cmake -DFDAL_BUILD_TOOLS=ON), or PATH; None when it is not built."""
from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Optional


def find_fdal_rank(root: Path) -> Optional[str]:
    for candidate in (os.environ.get("FDAL_RANK"), root / "build/ctest-native/csrc/tools/fdal-rank",
                      root / "build/pytest-ctest/csrc/tools/fdal-rank", shutil.which("fdal-rank")):
        if candidate and os.access(candidate, os.X_OK) and os.path.isfile(candidate):
            return str(candidate)
    return None
