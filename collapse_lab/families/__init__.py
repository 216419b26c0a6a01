"""Model families: one module per family."""

from .categorical import (
    Categorical,
    CategoricalParams,
    CategoricalStats,
    zipf,
    zipf_mandelbrot,
)
from .gaussian import Gaussian, GaussianParams, GaussianStats
from .ngram import NGram, NGramParams, NGramStats, random_markov_source

FAMILIES = {"gaussian": Gaussian, "categorical": Categorical, "ngram": NGram}

__all__ = [
    "FAMILIES",
    "Categorical",
    "CategoricalParams",
    "CategoricalStats",
    "zipf",
    "zipf_mandelbrot",
    "Gaussian",
    "GaussianParams",
    "GaussianStats",
    "NGram",
    "NGramParams",
    "NGramStats",
    "random_markov_source",
]
