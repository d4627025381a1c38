"""Download (only when asked with download=True) and unpack an official archive."""
import os
import shutil
import tarfile
import tempfile
import urllib.request


def fetch(url, dest_path):
    """Download url to dest_path (written atomically via a temporary file)."""
    os.makedirs(os.path.dirname(dest_path) or ".", exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(dest_path) or ".", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=60) as resp:
            shutil.copyfileobj(resp, out)
        os.replace(tmp, dest_path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return dest_path


def fetch_and_untar(url, data_dir):
    """Download a .tar.gz into data_dir and unpack it there (refusing paths that escape it)."""
    archive = fetch(url, os.path.join(data_dir, os.path.basename(url)))
    with tarfile.open(archive, "r:gz") as tar:
        if hasattr(tarfile, "data_filter"):
            tar.extractall(data_dir, filter="data")
        else:  # older Pythons: check member paths ourselves
            root = os.path.realpath(data_dir)
            for m in tar.getmembers():
                target = os.path.realpath(os.path.join(data_dir, m.name))
                if not target.startswith(root + os.sep) or m.issym() or m.islnk():
                    raise ValueError(f"refusing unsafe archive member {m.name!r} in {archive}")
            tar.extractall(data_dir)
    os.remove(archive)
