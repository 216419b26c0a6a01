"""Closed-form predictions: pure float64 NumPy/SciPy, never imports the simulator."""

from . import gaussian

__all__ = ["gaussian"]
