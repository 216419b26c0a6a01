"""Model families: one module per family."""

from .gaussian import Gaussian, GaussianParams, GaussianStats
from .ngram import NGram, NGramParams, NGramStats, random_markov_source

FAMILIES = {"gaussian": Gaussian, "ngram": NGram}

__all__ = [
    "FAMILIES",
    "Gaussian",
    "GaussianParams",
    "GaussianStats",
    "NGram",
    "NGramParams",
    "NGramStats",
    "random_markov_source",
]
