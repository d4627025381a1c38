"""float32 views of Python floats: files store f32, so the reader and the writer compare scales as
float32 bits, never as float64 values."""
import struct

import numpy as np


def as_f32(x) -> float:
    """x rounded to float32 (as a Python float)."""
    return float(np.float32(x))


def f32_bits(x) -> int:
    """The IEEE-754 binary32 bit pattern of x, for exact comparisons."""
    return struct.unpack("<I", struct.pack("<f", x))[0]


def finite_positive(x: float) -> bool:
    return bool(np.isfinite(x)) and x > 0
