"""One small, fast configuration per registered family (contract, sharding and reduction tests).

Each entry builds ``(family, source, num_samples)``; every family in ``collapse_lab.FAMILIES``
must have one (a test enforces it). The transformer (``collapse_lab.ALL_FAMILIES``) has its own
tiny entry, ``TRANSFORMER_EXAMPLES``, run by the contract tests only (its chains are bit-identical
only among runs with the same padded chain count, and its training dominates any run).
"""

import jax
import numpy as np

import collapse_lab as cl


def gaussian_1d():
    fam = cl.Gaussian(dim=1, estimator="mle")
    return fam, fam.source(jax.random.key(0), 1.0, 2.0), 10


def gaussian_3d():
    fam = cl.Gaussian(dim=3, estimator="unbiased", temperature=0.9)
    cov = np.array([[2.0, 0.3, 0.1], [0.3, 1.0, -0.2], [0.1, -0.2, 0.5]])
    return fam, fam.source(jax.random.key(0), [0.0, 1.0, 2.0], cov), 8


def categorical():
    fam = cl.Categorical(50, bias=cl.SamplingBias(temperature=0.9, top_p=0.95))
    return fam, fam.source(jax.random.key(0), cl.zipf(1.1, 50)), 40


def ngram_fixed():
    p = cl.random_markov_source(jax.random.key(0), vocab_size=12, order=1, support_size=5)
    fam = cl.NGram(12, 1, mode="fixed_counts")
    return fam, fam.source(jax.random.key(1), p, heldout_sequences=4, heldout_seq_len=50), 6


def ngram_corpus():
    p = cl.random_markov_source(jax.random.key(0), vocab_size=12, order=1, support_size=5)
    fam = cl.NGram(12, 1, mode="corpus", seq_len=20)
    return fam, fam.source(jax.random.key(1), p, heldout_sequences=4, heldout_seq_len=50), 3


def gaussian_mixture_em():
    fam = cl.GaussianMixture(2, 2, num_em_steps=3, num_heldout=4)
    means = np.array([[-4.0, 0.0], [4.0, 1.0]])
    cov = np.array([[[1.0, 0.3], [0.3, 0.5]], [[0.5, 0.0], [0.0, 1.0]]])
    return fam, fam.source(jax.random.key(0), [0.7, 0.3], means, cov), 12


def gaussian_mixture_oracle():
    fam = cl.GaussianMixture(3, 1, oracle_assignments=True, num_heldout=4)
    source = fam.source(jax.random.key(0), [0.6, 0.3, 0.1], [-10.0, 0.0, 10.0], [1.0, 2.0, 0.5])
    return fam, source, 10


def linear_regression():
    fam = cl.LinearRegression(3, 0.5)
    cov = np.array([[1.0, 0.3, 0.0], [0.3, 2.0, 0.2], [0.0, 0.2, 0.5]])
    return fam, fam.source(jax.random.key(0), [1.0, -0.5, 0.2], cov), 8


def kde_rule_2d():
    fam = cl.KDE("silverman", dim=2, max_points=12)
    return fam, fam.source(jax.random.key(0), [0.0, 1.0], [[1.0, 0.3], [0.3, 0.5]]), 12


EXAMPLES = {
    "gaussian": gaussian_1d,
    "gaussian-3d": gaussian_3d,
    "categorical": categorical,
    "ngram": ngram_fixed,
    "ngram-corpus": ngram_corpus,
    "gaussian_mixture": gaussian_mixture_em,
    "gaussian_mixture-oracle": gaussian_mixture_oracle,
    "linear_regression": linear_regression,
    "kde": kde_rule_2d,
}


def transformer():
    ngram = cl.NGram(6, 1, mode="corpus", seq_len=8)
    p = cl.random_markov_source(jax.random.key(0), 6, 1, support_size=3)
    fam = cl.Transformer(
        6, 8, d_model=8, num_layers=1, num_heads=2, num_train_steps=4, batch_size=8
    )
    return (
        fam,
        fam.source(jax.random.key(2), ngram.source(jax.random.key(1), p), heldout_sequences=8),
        16,
    )


TRANSFORMER_EXAMPLES = {"transformer": transformer}
