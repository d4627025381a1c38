"""Acquisition strategies, one per file, behind one interface: see registry.select."""
from .base import SelectionContext
from .registry import METHODS, needs_teacher, select, training_mode

__all__ = ["METHODS", "SelectionContext", "needs_teacher", "select", "training_mode"]
