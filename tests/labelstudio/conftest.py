"""The `label_studio` fixture: one real Label Studio server per test session (labelstudio_server.py), shared by
the tests here; each test makes its own project and keeps its images in its own folder under the
server's document root (`ls_images`). Outside CI the tests skip when the server's venv is absent;
in CI (CI=true or FDAL_REQUIRE_LABEL_STUDIO=1) they fail."""
from __future__ import annotations

import pytest

import labelstudio_server as ls_server


@pytest.fixture(scope="session")
def label_studio(tmp_path_factory):
    venv = ls_server.venv_path()
    if not (venv / "bin" / "label-studio").exists() and not ls_server.required():
        pytest.skip(f"no Label Studio venv at {venv}: create it with .ci/labelstudio_venv.sh (or set FDAL_LS_VENV)")
    root, data_dir = tmp_path_factory.mktemp("ls-document-root"), tmp_path_factory.mktemp("ls-data")
    try:
        server = ls_server.start(venv, data_dir, root)
    except ls_server.StartFailed as exc:
        pytest.fail(f"Label Studio did not start: {exc}", pytrace=False)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def ls_images(label_studio, request):
    """This test's own folder under the server's document root."""
    folder = label_studio.document_root / request.node.name.replace("[", "-").replace("]", "")
    folder.mkdir()
    return folder
