"""Acquisition strategies, one per file, behind one interface: see registry.select."""
from .base import SelectionContext
from .registry import METHODS, select, training_mode

__all__ = ["METHODS", "SelectionContext", "select", "training_mode"]
