#!/usr/bin/env bash
# The Label Studio server for tests/labelstudio: label-studio from PyPI in its own venv (it pins its
# own numpy, pandas and Django; about 1 GB, about 3 minutes). Idempotent: a venv whose
# label-studio already imports at the pinned version is kept. Prints the venv path.
#   FDAL_LS_VENV   where the venv lives (default: ~/.cache/fdal/label-studio-venv, outside the repo)
set -euo pipefail
version=1.23.2
venv="${FDAL_LS_VENV:-$HOME/.cache/fdal/label-studio-venv}"
installed() {
  [ -x "$venv/bin/label-studio" ] &&
    [ "$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("label-studio"))' 2>/dev/null)" = "$version" ]
}
if ! installed; then
  "${PYTHON:-python3}" -m venv "$venv"
  "$venv/bin/python" -m pip install -q --upgrade pip >&2
  # sentry-sdk 3.x breaks the server's start-up (../shared/docs/DESIGN.md, "Label Studio").
  "$venv/bin/python" -m pip install -q "label-studio==$version" "sentry-sdk<3" >&2
  installed || { echo "labelstudio_venv.sh: label-studio $version did not install into $venv" >&2; exit 1; }
fi
echo "$venv"
