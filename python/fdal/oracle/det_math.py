"""Deterministic exp, log and sigmoid: float64 with IEEE +, -, *, / and exact power-of-two scaling
only, so every CPU and compiler agrees (csrc/runtime/det_math.*; docs/quantization.md).
"""
from __future__ import annotations

from fractions import Fraction
from math import factorial

import numpy as np

LOG2E = 1.4426950408889634
LN2_HI = 0.6931471803691238  # 0x3FE62E42FEE00000: k * LN2_HI is exact for |k| < 2^11
LN2_LO = 1.9082149292705877e-10  # 0x3DEA39EF35793C76
SQRT_HALF = 0.7071067811865476  # float64 nearest sqrt(1/2)
EXP_COEFFS = tuple(float(Fraction(1, factorial(j))) for j in range(14))  # 1/j!, j = 0..13
LOG_COEFFS = tuple(float(Fraction(1, 2 * j + 1)) for j in range(12))  # 1/(2j+1), j = 0..11


def det_exp(t):
    """exp(t) for t <= 709 by range reduction and a 13th-degree Taylor polynomial (Horner)."""
    t = np.asarray(t, dtype=np.float64)
    if np.any(np.isnan(t)) or np.any(t > 709.0):
        raise ValueError("det_exp: argument must not be NaN or > 709")
    underflow = t < -745.0
    t = np.where(underflow, 0.0, t)  # computed on a harmless value, replaced by 0 below
    k = np.floor(t * LOG2E + 0.5)
    r = (t - k * LN2_HI) - k * LN2_LO
    p = np.full_like(r, EXP_COEFFS[13])
    for coeff in EXP_COEFFS[12::-1]:
        p = coeff + r * p
    result = np.ldexp(p, k.astype(np.int64))
    return np.where(underflow, 0.0, result)


def det_log(s):
    """log(s) for finite s > 0 (used with s >= 1): frexp reduction and an atanh series (Horner)."""
    s = np.asarray(s, dtype=np.float64)
    if not np.all(np.isfinite(s)) or not np.all(s > 0):
        raise ValueError("det_log: argument must be finite and > 0")
    m, e = np.frexp(s)
    small = m < SQRT_HALF
    m = np.where(small, m * 2.0, m)
    e = np.where(small, e - 1, e).astype(np.float64)
    u = (m - 1.0) / (m + 1.0)
    u2 = u * u
    p = np.full_like(u, LOG_COEFFS[11])
    for coeff in LOG_COEFFS[10::-1]:
        p = coeff + u2 * p
    l = 2.0 * u * p
    return e * LN2_HI + (e * LN2_LO + l)


def sigmoid(x):
    """float64 sigmoid through det_exp, the branch by sign so det_exp only sees arguments <= 0."""
    x = np.asarray(x, dtype=np.float64)
    e = det_exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
