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

# Not in FAMILIES: its source is built from an n-gram source, not from plain family arguments,
# and it is too slow for the every-family contract/sharding tests (see theory/transformer.md).
from .transformer import Transformer, TransformerParams, TransformerStats

FAMILIES = {
    "gaussian": Gaussian,
    "categorical": Categorical,
    "ngram": NGram,
    "gaussian_mixture": GaussianMixture,
    "linear_regression": LinearRegression,
    "kde": KDE,
}

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
