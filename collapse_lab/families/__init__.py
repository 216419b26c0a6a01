"""Model families: one module per family."""

from .categorical import (
    Categorical,
    CategoricalParams,
    CategoricalStats,
    zipf,
    zipf_mandelbrot,
)
from .gaussian import Gaussian, GaussianParams, GaussianStats
from .mixture import (
    GaussianMixture,
    MixtureComponentStats,
    MixtureParams,
    MixtureSampleBuffer,
)
from .ngram import NGram, NGramParams, NGramStats, random_markov_source
from .transformer import Transformer, TransformerParams, TransformerStats

# Families an experiment file can name: their sources are plain data.
FAMILIES = {
    "gaussian": Gaussian,
    "categorical": Categorical,
    "ngram": NGram,
    "gaussian_mixture": GaussianMixture,
}
# Every family class, the transformer included (its source is built from an n-gram source, so
# it is not in FAMILIES; the contract tests run it on a tiny example).
ALL_FAMILIES = {**FAMILIES, "transformer": Transformer}

__all__ = [
    "ALL_FAMILIES",
    "FAMILIES",
    "Categorical",
    "CategoricalParams",
    "CategoricalStats",
    "zipf",
    "zipf_mandelbrot",
    "Gaussian",
    "GaussianParams",
    "GaussianStats",
    "GaussianMixture",
    "MixtureComponentStats",
    "MixtureParams",
    "MixtureSampleBuffer",
    "NGram",
    "NGramParams",
    "NGramStats",
    "random_markov_source",
    "Transformer",
    "TransformerParams",
    "TransformerStats",
]
