"""Closed-form predictions: pure float64 NumPy/SciPy, never imports the simulator."""

from . import gaussian, ngram, wright_fisher

__all__ = ["gaussian", "ngram", "wright_fisher"]
