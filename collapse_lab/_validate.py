"""Shared plain-Python validators: one clear ``ValueError`` naming the argument, before tracing.

Every function takes the argument's name first so the message reads
``"<name> must be ..., got ..."``; each returns the value normalised (a Python ``int`` or
``float``, a float64 NumPy vector) so callers can write ``n = positive_int("n", n)``.
This module imports only NumPy (and JAX lazily, for keys) so theory and families can share it.
"""

from __future__ import annotations

import math
import numbers

import numpy as np


def check_key(name, key):
    """A single typed PRNG key (``jax.random.key(seed)``); returns it unchanged."""
    import jax
    import jax.numpy as jnp

    if not (isinstance(key, jax.Array) and jnp.issubdtype(key.dtype, jax.dtypes.prng_key)):
        raise ValueError(
            f"{name} must be a typed PRNG key from jax.random.key(seed), "
            f"got {type(key).__name__} {getattr(key, 'dtype', '')}".rstrip()
        )
    if key.shape != ():
        raise ValueError(f"{name} must be a single key (shape ()), got shape {key.shape}")
    return key


def integer(name, value, lo=None, hi=None):
    """An integer (not a bool, not a float even if whole) in ``[lo, hi]``; returns ``int``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    value = int(value)
    if lo is not None and value < lo:
        raise ValueError(f"{name} must be >= {lo}, got {value}")
    if hi is not None and value > hi:
        raise ValueError(f"{name} must be <= {hi}, got {value}")
    return value


def positive_int(name, value, lo=1):
    """An integer >= ``lo`` (default 1); rejects bools, floats, NaN and infinities."""
    return integer(name, value, lo=lo)


def whole_number(name, value, lo=None):
    """An integer-valued number (``3`` or ``3.0``; not ``2.7``, NaN or inf); returns ``int``.

    For theory functions, whose generation ``t`` may arrive as a float from NumPy code but
    must never be silently truncated.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    v = float(value)
    if not math.isfinite(v) or v != math.floor(v):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    return integer(name, int(v), lo=lo)


def finite_float(name, value, lo=None, hi=None, lo_open=False, hi_open=False):
    """A finite real number within optional bounds (open or closed); returns ``float``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if lo is not None and (v <= lo if lo_open else v < lo):
        raise ValueError(f"{name} must be {'>' if lo_open else '>='} {lo}, got {v}")
    if hi is not None and (v >= hi if hi_open else v > hi):
        raise ValueError(f"{name} must be {'<' if hi_open else '<='} {hi}, got {v}")
    return v


def open_unit(name, value):
    """A number strictly inside (0, 1), e.g. a false-alarm rate; returns ``float``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must lie in (0, 1), got {value!r}")
    v = float(value)
    if not 0.0 < v < 1.0:  # also rejects NaN
        raise ValueError(f"{name} must lie in (0, 1), got {value!r}")
    return v


def finite_array(name, value, shape=None):
    """A float64 array of finite entries, optionally of a given shape."""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be an array of finite numbers, got {value!r}") from None
    if shape is not None and arr.shape != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)}, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must have finite entries (no NaN or inf), got {value!r}")
    return arr


def probability_vector(name, p, atol=1e-6):
    """A 1-D vector of non-negative finite entries summing to 1 within ``atol``; float64."""
    arr = finite_array(name, p)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(
            f"{name} must be a non-empty 1-D probability vector, got shape {arr.shape}"
        )
    if np.any(arr < 0):
        raise ValueError(f"{name} must have non-negative entries, got min {arr.min()}")
    if abs(arr.sum() - 1.0) > atol:
        raise ValueError(f"{name} must sum to 1 (within {atol}), got sum {arr.sum()}")
    return arr


def at_most(name, value, bound, bound_name):
    """``value <= bound`` (``None`` passes), e.g. ``at_most("top_k", k, V, "vocab_size")``."""
    if value is not None and value > bound:
        raise ValueError(f"{name} must be <= {bound_name} ({bound}), got {value!r}")
    return value


def choice(name, value, allowed):
    """One of ``allowed``; returns it unchanged."""
    if value not in tuple(allowed):
        raise ValueError(f"{name} must be one of {tuple(allowed)}, got {value!r}")
    return value


def known_keys(name, mapping, allowed):
    """A mapping (or None) whose keys all lie in ``allowed``; returns a dict."""
    if mapping is None:
        return {}
    if not isinstance(mapping, dict):
        raise ValueError(f"{name} must be a dict, got {type(mapping).__name__}")
    unknown = sorted(set(mapping) - set(allowed), key=str)
    if unknown:
        raise ValueError(
            f"{name} has unknown key(s) {unknown}; allowed: {sorted(allowed, key=str)}"
        )
    return dict(mapping)


def mean_vector(name, value, dim):
    """A length-``dim`` finite vector; a scalar is broadcast. Returns a float64 array."""
    vec = np.asarray(value, dtype=np.float64)
    if vec.ndim == 0:
        vec = np.full(dim, float(vec))
    if vec.shape != (dim,):
        raise ValueError(f"{name} must have shape ({dim},) for dim={dim}, got {vec.shape}")
    if not np.all(np.isfinite(vec)):
        raise ValueError(f"{name} must be finite (no NaN or inf), got {value!r}")
    return vec


def covariance_matrix(name, value, dim):
    """A symmetric positive-definite ``[dim, dim]`` matrix; a scalar ``c > 0`` means ``c I``.

    Returns ``(cov, chol)``: the float64 matrix and its lower Cholesky factor.
    """
    cov = np.asarray(value, dtype=np.float64)
    if cov.ndim == 0:
        if not np.isfinite(cov) or cov <= 0:
            raise ValueError(f"{name} (a scalar variance) must be finite and > 0, got {value!r}")
        cov = np.eye(dim) * float(cov)
    if cov.shape != (dim, dim):
        raise ValueError(f"{name} must have shape ({dim}, {dim}) for dim={dim}, got {cov.shape}")
    if not np.all(np.isfinite(cov)):
        raise ValueError(f"{name} must be finite")
    if not np.allclose(cov, cov.T, rtol=1e-10, atol=1e-12):
        raise ValueError(f"{name} must be symmetric")
    try:
        chol = np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        raise ValueError(f"{name} must be positive definite") from None
    if np.any(np.diag(chol) <= 0):
        raise ValueError(f"{name} must be positive definite")
    return cov, chol
