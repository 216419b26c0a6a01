"""Closed-form predictions: pure float64 NumPy/SciPy, never imports the simulator."""

from . import gaussian, kde, mixture, ngram, regression, wright_fisher

__all__ = ["gaussian", "kde", "mixture", "ngram", "regression", "wright_fisher"]
