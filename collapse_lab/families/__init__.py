"""Model families: one module per family."""

from .gaussian import Gaussian, GaussianParams, GaussianStats

FAMILIES = {"gaussian": Gaussian}

__all__ = ["FAMILIES", "Gaussian", "GaussianParams", "GaussianStats"]
