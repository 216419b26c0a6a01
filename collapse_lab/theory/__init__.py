"""Closed-form predictions: pure float64 NumPy/SciPy, never imports the simulator."""

from . import gaussian, ngram

__all__ = ["gaussian", "ngram"]
