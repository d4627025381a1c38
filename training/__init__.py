"""fdal.training: the PyTorch side of fdal (data, models, teacher training, the FDAL loop, export).

Submodules load on first use, so `import fdal.training as ft; ft.models.Student` works and
modules that are not needed (or not yet present) cost nothing.
"""
import importlib

_SUBMODULES = ("data", "models", "teacher")
# Public functions re-exported from submodules written by other parts of the project.
_FUNCTIONS = {"export": ("int8_export", "export"), "compare": ("parity", "compare")}


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    if name in _FUNCTIONS:
        module, attr = _FUNCTIONS[name]
        return getattr(importlib.import_module(f".{module}", __name__), attr)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_SUBMODULES) + list(_FUNCTIONS))
