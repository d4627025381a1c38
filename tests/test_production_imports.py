"""Production code never imports fdal.oracle: the numpy oracle is the ground truth for tests and
benchmarks only, and every key or candidate the package reports comes from the native ranker.
Checked twice: no import statement anywhere in a production file names the oracle (this also
catches imports inside functions), and importing every production module loads no oracle module."""
from __future__ import annotations

import ast
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "python" / "fdal"
TEST_ONLY = ("oracle", "testing")  # fdal.oracle and fdal.testing (seeded models, oracle scores)


def production_files():
    files = [p for p in sorted(PACKAGE.rglob("*.py")) if p.relative_to(PACKAGE).parts[0] not in TEST_ONLY]
    return files + sorted((ROOT / "training").rglob("*.py"))


def oracle_imports(path: Path):
    """(line, text) of every import in the file that reaches fdal.oracle."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            names = [module] + [f"{module}.{a.name}" if module else a.name for a in node.names]
        else:
            continue
        if any("oracle" in n.split(".") for n in names):
            found.append((node.lineno, ast.unparse(node)))
    return found


def test_no_production_file_imports_the_oracle():
    files = production_files()
    assert len(files) > 50 and any(p.name == "runtime.py" for p in files)
    offenders = {str(p.relative_to(ROOT)): oracle_imports(p) for p in files}
    assert {p: hits for p, hits in offenders.items() if hits} == {}


def test_the_scan_finds_oracle_imports(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("def f():\n    from ..oracle.keys import keys\n    from fdal import oracle\n"
                      "import fdal.oracle.pool_select\nfrom . import runtime\n")
    assert sorted(line for line, _ in oracle_imports(sample)) == [2, 3, 4]


def test_importing_every_production_module_loads_no_oracle():
    training = importlib.util.find_spec("torch") is not None
    code = f"""
import importlib, pkgutil, sys

def production_modules(package):  # iter_modules, not walk_packages: walking imports every package
    for m in pkgutil.iter_modules(package.__path__, package.__name__ + "."):
        if m.name.startswith(("fdal.oracle", "fdal.testing")) or m.name.endswith("__main__"):
            continue
        if m.name.startswith("fdal.training") and not {training}:
            continue
        module = importlib.import_module(m.name)
        yield m.name
        if m.ispkg:
            yield from production_modules(module)

import fdal
names = list(production_modules(fdal))
loaded = sorted(m for m in sys.modules if m.startswith("fdal.oracle"))
print(len(names), loaded)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    count, loaded = out.stdout.split(" ", 1)
    assert int(count) > 40
    assert loaded.strip() == "[]", f"production modules loaded the oracle: {loaded}"
