"""fdal.training: the PyTorch side of fdal (data, models, teacher training, one cycle of student
training, the acquisition strategies, the active-learning runner, the int8 export and its parity check).

    import fdal.training as ft
    student = ft.models.Student(num_classes=10)
    ft.export(student, sampler, calibration_images, "student.fdal")
    ft.compare(student, sampler, "student.fdal", images, labels)

Every submodule is imported here, so `ft.strategies` or `ft.runner` works without importing it
first; `export` and `compare` are the functions (their modules are `int8_export` and `parity`).
Nothing heavy runs at import: matplotlib, tqdm and the datasets load when used.
"""
from . import (analysis, campaign, checkpoint, data, determinism, export_graph, int8_export, models, parallel, parity, plots,
               protocols, report, results, runner, strategies, student_training, teacher,
               teacher_ddp)
from .int8_export import export
from .parity import compare

__all__ = ["analysis", "campaign", "checkpoint", "compare", "data", "determinism", "export", "export_graph", "int8_export",
           "models", "parallel", "parity", "plots", "protocols", "report", "results", "runner", "strategies",
           "student_training", "teacher", "teacher_ddp"]
