"""Model families: one module per family."""

from .categorical import (
    Categorical,
    CategoricalParams,
    CategoricalStats,
    zipf,
    zipf_mandelbrot,
)
from .gaussian import Gaussian, GaussianParams, GaussianStats
from .kde import KDE, KDEParams, KDEStats
from .mixture import (
    GaussianMixture,
    MixtureComponentStats,
    MixtureParams,
    MixtureSampleBuffer,
)
from .ngram import NGram, NGramParams, NGramStats, random_markov_source
from .regression import LinearRegression, RegressionParams, RegressionStats
from .transformer import Transformer, TransformerParams, TransformerStats

# Families an experiment file can name: their sources are plain data.
FAMILIES = {
    "gaussian": Gaussian,
    "categorical": Categorical,
    "ngram": NGram,
    "gaussian_mixture": GaussianMixture,
    "linear_regression": LinearRegression,
    "kde": KDE,
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
    "KDE",
    "KDEParams",
    "KDEStats",
    "MixtureComponentStats",
    "MixtureParams",
    "MixtureSampleBuffer",
    "NGram",
    "NGramParams",
    "NGramStats",
    "random_markov_source",
    "LinearRegression",
    "RegressionParams",
    "RegressionStats",
    "Transformer",
    "TransformerParams",
    "TransformerStats",
]
