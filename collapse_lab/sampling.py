"""Sampling-bias maps on logits, shared by the categorical, n-gram and transformer families.

Every map is a pure function ``logits[..., K] -> logits[..., K]`` (the last axis is the vocabulary);
excluded tokens get ``-inf``. Zero-probability tokens (``-inf`` logits) stay excluded, and at least
one token always survives, so ``softmax`` of the result never has NaN.

:class:`SamplingBias` bundles them (plain data, usable as a static field of a family) and applies
them in the conventional order: temperature, then top-k, then top-p, then min-p.

References:
    Holtzman et al. (2020), "The curious case of neural text degeneration" (top-p / nucleus);
    Fan, Lewis & Dauphin (2018), "Hierarchical neural story generation" (top-k);
    Nguyen et al. (2024), arXiv 2407.01082 (min-p).
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np

NEG_INF = -jnp.inf


def temperature(logits, tau):
    """Divide logits by ``tau`` (> 0): ``tau < 1`` sharpens, ``tau > 1`` flattens."""
    return jnp.where(jnp.isfinite(logits), logits / tau, NEG_INF)


def top_k(logits, k: int):
    """Keep the ``k`` largest logits (ties broken by lower index), exclude the rest."""
    vocab = logits.shape[-1]
    if k >= vocab:
        return logits
    order = jnp.argsort(-logits, axis=-1, stable=True)
    ranks = jnp.argsort(order, axis=-1, stable=True)
    return jnp.where(ranks < k, logits, NEG_INF)


def top_p(logits, p: float):
    """Nucleus: keep the smallest set of most-probable tokens whose mass reaches ``p``.

    A token is kept when the mass of the tokens ranked strictly before it is below ``p``.
    """
    if p >= 1.0:
        return logits
    order = jnp.argsort(-logits, axis=-1, stable=True)
    sorted_logits = jnp.take_along_axis(logits, order, axis=-1)
    probs = jax.nn.softmax(sorted_logits, axis=-1)
    before = jnp.cumsum(probs, axis=-1) - probs
    keep_sorted = before < p
    keep_sorted = keep_sorted.at[..., 0].set(True)
    ranks = jnp.argsort(order, axis=-1, stable=True)
    keep = jnp.take_along_axis(keep_sorted, ranks, axis=-1)
    return jnp.where(keep, logits, NEG_INF)


def min_p(logits, p_min: float):
    """Keep tokens whose probability is at least ``p_min`` times the largest probability."""
    top = jnp.max(logits, axis=-1, keepdims=True)
    return jnp.where(logits >= top + jnp.log(p_min), logits, NEG_INF)


def truncation(logits, epsilon: float):
    """Epsilon sampling: drop tokens with probability below ``epsilon`` (keeps the argmax)."""
    logp = jax.nn.log_softmax(logits, axis=-1)
    top = jnp.max(logits, axis=-1, keepdims=True)
    return jnp.where((logp >= jnp.log(epsilon)) | (logits >= top), logits, NEG_INF)


def _is_number(x):
    return not isinstance(x, bool) and isinstance(x, (int, float, np.integer, np.floating))


@dataclasses.dataclass(frozen=True)
class SamplingBias:
    """A composition of sampling-bias maps (all optional; the default is unbiased sampling).

    Args:
        temperature: > 0 (1 = unchanged).
        top_k: integer >= 1 or None.
        top_p: in (0, 1] or None.
        min_p: in (0, 1] or None.
        epsilon: truncation threshold in (0, 1) or None.
    """

    temperature: float = 1.0
    top_k: int | None = None
    top_p: float | None = None
    min_p: float | None = None
    epsilon: float | None = None

    def __post_init__(self):
        t = self.temperature
        if not _is_number(t) or not math.isfinite(float(t)) or float(t) <= 0:
            raise ValueError(f"temperature must be finite and > 0, got {t!r}")
        k = self.top_k
        if k is not None and (isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1):
            raise ValueError(f"top_k must be an integer >= 1, got {k!r}")
        for name in ("top_p", "min_p"):
            v = getattr(self, name)
            if v is not None and (not _is_number(v) or not 0.0 < float(v) <= 1.0):
                raise ValueError(f"{name} must lie in (0, 1], got {v!r}")
        e = self.epsilon
        if e is not None and (not _is_number(e) or not 0.0 < float(e) < 1.0):
            raise ValueError(f"epsilon must lie in (0, 1), got {e!r}")

    @property
    def is_identity(self) -> bool:
        return (
            self.temperature == 1.0
            and self.top_k is None
            and (self.top_p is None or self.top_p == 1.0)
            and self.min_p is None
            and self.epsilon is None
        )

    def __call__(self, logits):
        """Apply the maps to ``logits[..., K]``."""
        if self.temperature != 1.0:
            logits = temperature(logits, self.temperature)
        if self.top_k is not None:
            logits = top_k(logits, int(self.top_k))
        if self.top_p is not None:
            logits = top_p(logits, float(self.top_p))
        if self.min_p is not None:
            logits = min_p(logits, float(self.min_p))
        if self.epsilon is not None:
            logits = truncation(logits, float(self.epsilon))
        return logits

    def probs(self, probs):
        """Apply the maps to a probability vector and renormalise."""
        logits = jnp.where(probs > 0, jnp.log(jnp.where(probs > 0, probs, 1.0)), NEG_INF)
        return jax.nn.softmax(self(logits), axis=-1)

    def describe(self) -> dict:
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None}
