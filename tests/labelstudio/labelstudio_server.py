"""A real Label Studio server for the tests: started from its own venv (.ci/labelstudio_venv.sh),
listening on 127.0.0.1 only, with a temporary data dir, a user and a legacy API token, and local
file serving from a given document root. The pitfalls it avoids are listed in
../shared/docs/DESIGN.md, "Label Studio"."""
from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

DEFAULT_VENV = Path.home() / ".cache" / "fdal" / "label-studio-venv"
START_TIMEOUT_S = float(os.environ.get("FDAL_LS_START_TIMEOUT", "300"))  # cold: 40-80 s idle, ~120 s under load


def venv_path() -> Path:
    return Path(os.environ.get("FDAL_LS_VENV") or DEFAULT_VENV)


def required() -> bool:
    """CI must run these tests: a server that cannot start is a failure there, a skip elsewhere."""
    return os.environ.get("CI", "").lower() == "true" or os.environ.get("FDAL_REQUIRE_LABEL_STUDIO") == "1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    url: str
    token: str
    document_root: Path
    username: str
    password: str
    process: subprocess.Popen
    log: Path

    def log_tail(self, n: int = 20) -> str:
        lines = self.log.read_text(errors="replace").splitlines() if self.log.exists() else []
        return "\n".join(lines[-n:])

    def stop(self) -> None:
        """Terminate the server's process group (label-studio starts child processes), then kill it."""
        if self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)
        except ProcessLookupError:
            pass


class StartFailed(RuntimeError):
    pass


def template_path(venv: Path) -> Path:
    """An already-migrated data dir kept next to the venv (per Label Studio version): a copy of it
    starts in seconds instead of the minute or two a fresh database's migrations take."""
    versions = sorted(venv.glob("lib/python*/site-packages/label_studio-*.dist-info"))
    version = versions[-1].name[len("label_studio-"):-len(".dist-info")] if versions else "unknown"
    return venv / f"fdal-test-data-{version}"


def save_template(data_dir: Path, template: Path, credentials: dict) -> None:
    """Keep a just-started server's data dir as the template (once; atomic rename), with its user's
    credentials: a fresh user and no projects. The database is copied with SQLite's online backup,
    a consistent snapshot while the server runs."""
    tmp = template.with_name(template.name + f".tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(data_dir, tmp, ignore=shutil.ignore_patterns("server.log", "*.sqlite3*", "media", "export"))
    for db in data_dir.glob("*.sqlite3"):
        source, target = sqlite3.connect(db), sqlite3.connect(tmp / db.name)
        try:
            source.backup(target)
        finally:
            source.close()
            target.close()
    (tmp / "fdal-credentials.json").write_text(json.dumps(credentials))
    try:
        tmp.rename(template)
    except OSError:  # another session saved one first
        shutil.rmtree(tmp, ignore_errors=True)


def start(venv: Path, data_dir: Path, document_root: Path) -> Server:
    """Start label-studio and wait until GET /api/version answers; StartFailed with the log's tail
    when it exits or does not answer within START_TIMEOUT_S."""
    exe = venv / "bin" / "label-studio"
    if not exe.exists():
        raise StartFailed(f"no Label Studio venv at {venv} (create it with .ci/labelstudio_venv.sh)")
    port = free_port()
    template = template_path(venv)
    if (template / "fdal-credentials.json").exists():  # the user and token already exist in it
        shutil.copytree(template, data_dir, dirs_exist_ok=True)
        credentials = json.loads((data_dir / "fdal-credentials.json").read_text())
        username, password, token = credentials["username"], credentials["password"], credentials["token"]
    else:
        username, password, token = "annotator@example.com", secrets.token_urlsafe(12), secrets.token_hex(20)
    data_dir.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env.update({
        "HOME": str(data_dir), "LABEL_STUDIO_BASE_DATA_DIR": str(data_dir),
        "LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED": "true", "LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT": str(document_root),
        "SENTRY_DSN": "", "FRONTEND_SENTRY_DSN": "", "LATEST_VERSION_CHECK": "false", "COLLECT_ANALYTICS": "false",
        "PATH": f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",
    })
    log = data_dir / "server.log"
    # --internal-host (not --host) is the listen address; --enable-legacy-api-token makes
    # `Authorization: Token ...` valid; never `label-studio --version` (it starts a server).
    cmd = [str(exe), "start", "--no-browser", "--internal-host", "127.0.0.1", "--port", str(port),
           "--data-dir", str(data_dir), "--username", username, "--password", password,
           "--user-token", token, "--enable-legacy-api-token"]
    with open(log, "wb") as out:
        process = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   start_new_session=True)
    server = Server(f"http://127.0.0.1:{port}", token, document_root, username, password, process, log)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise StartFailed(f"label-studio exited with code {process.returncode}; log:\n{server.log_tail()}")
        try:
            with urllib.request.urlopen(server.url + "/api/version", timeout=5) as resp:
                ready = "release" in json.loads(resp.read())
        except (urllib.error.URLError, OSError, ValueError):
            ready = False
        if ready:
            if not template.exists():
                save_template(data_dir, template, {"username": username, "password": password, "token": token})
            return server
        time.sleep(1)
    server.stop()
    raise StartFailed(f"label-studio did not answer /api/version within {START_TIMEOUT_S:.0f} s; log:\n{server.log_tail()}")
