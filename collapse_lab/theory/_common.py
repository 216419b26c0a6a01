"""Helpers shared by the theory modules (float64 NumPy only; no simulator imports)."""

from __future__ import annotations

import numpy as np

ESTIMATOR_OFFSET = {"mle": 0, "unbiased": 1}


def estimator_offset(estimator: str) -> int:
    """``c`` in ``SS / (n - c)``: 0 for the MLE, 1 for the unbiased estimator."""
    if estimator not in ESTIMATOR_OFFSET:
        raise ValueError(f"estimator must be 'mle' or 'unbiased', got {estimator!r}")
    return ESTIMATOR_OFFSET[estimator]


def as_generations(t, name: str = "t") -> tuple[np.ndarray, bool]:
    """``t`` as a 1-D int array of generations >= 0, and whether it was a scalar.

    Generations are counts: a non-integer (``2.7``), NaN, infinite or boolean ``t`` raises
    ``ValueError`` instead of being truncated. Integer-valued floats (``3.0``) are accepted.
    """
    arr = np.asarray(t)
    scalar = arr.ndim == 0
    arr = np.atleast_1d(arr)
    if arr.dtype == bool or not (
        np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)
    ):
        raise ValueError(f"{name} must be an integer generation >= 0, got {t!r}")
    if np.issubdtype(arr.dtype, np.floating) and not (
        np.all(np.isfinite(arr)) and np.all(arr == np.floor(arr))
    ):
        raise ValueError(f"{name} must be an integer generation >= 0, got {t!r}")
    arr = arr.astype(np.int64)
    if np.any(arr < 0):
        raise ValueError(f"{name} must be >= 0, got {t!r}")
    return arr, scalar


def generation(t, name: str = "t") -> int:
    """One generation ``t`` as a Python int >= 0 (rejects non-integers instead of truncating)."""
    if np.ndim(t) != 0:
        raise ValueError(f"{name} must be a single generation, got shape {np.shape(t)}")
    return int(as_generations(t, name)[0][0])


def schedule(n, t_max: int) -> np.ndarray:
    """Per-generation sample sizes ``n_s`` for s = 0..t_max-1 (float64).

    ``n`` is an int (fixed size) or a sequence (a schedule, at least ``t_max`` long).
    """
    arr = np.asarray(n, dtype=np.float64)
    if arr.ndim == 0:
        return np.full(t_max, float(arr))
    if arr.size < t_max:
        raise ValueError(f"n schedule has {arr.size} entries, need at least {t_max}")
    return arr[:t_max].astype(np.float64)


def cumulative(step_values: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Sum over s < t of per-step values (exponentiate a sum of logs for a product)."""
    csum = np.concatenate([[0.0], np.cumsum(step_values)])
    return csum[t]


def shape_out(values: np.ndarray, scalar: bool):
    return float(values[0]) if scalar else values
