"""Data policies: how each generation's training set is formed.

A policy is a small frozen dataclass (plain data, hashable, usable as a static argument). The runner
turns it into per-generation integer sample counts (``synthetic`` drawn from the current model and
``fresh`` drawn from the source) and into a rule for the pool of statistics:

* :class:`Replace` -- generation t+1 is fit on ``n_t`` samples of model t only.
* :class:`Accumulate` -- generation t+1 is fit on every batch drawn so far (Gerstgrasser et al.
  2024), carried as merged sufficient statistics: O(1) memory.
* :class:`Fresh` -- each generation uses ``round(alpha * n_t)`` fresh draws from the source plus
  ``n_t - round(alpha * n_t)`` synthetic draws (Alemohammad et al. 2024, "fresh data loop").

Sample-size schedules are given through ``num_samples`` of :func:`collapse_lab.run_chains` (an int,
a callable ``t -> n_t`` or a sequence), not through the policy.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np


@dataclasses.dataclass(frozen=True)
class Replace:
    """Fit each generation on the previous generation's samples only."""

    name = "replace"
    accumulate = False

    def split(self, num_samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per-generation (synthetic, fresh) sample counts."""
        return num_samples, np.zeros_like(num_samples)

    def describe(self) -> dict:
        return {"policy": self.name}


@dataclasses.dataclass(frozen=True)
class Accumulate:
    """Fit each generation on all data drawn so far (sufficient statistics, O(1) memory)."""

    name = "accumulate"
    accumulate = True

    def split(self, num_samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return num_samples, np.zeros_like(num_samples)

    def describe(self) -> dict:
        return {"policy": self.name}


@dataclasses.dataclass(frozen=True)
class Fresh:
    """A fixed fraction ``alpha`` of every training set is fresh data from the source.

    Args:
        alpha: fraction of real data in ``[0, 1]``; the real count is ``round(alpha * n_t)``.
    """

    alpha: float
    name = "fresh"
    accumulate = False

    def __post_init__(self):
        a = self.alpha
        if isinstance(a, bool) or not isinstance(a, (int, float, np.floating, np.integer)):
            raise ValueError(f"alpha must be a number in [0, 1], got {a!r}")
        if not math.isfinite(float(a)) or not 0.0 <= float(a) <= 1.0:
            raise ValueError(f"alpha must lie in [0, 1], got {a!r}")

    def split(self, num_samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        fresh = np.rint(self.alpha * num_samples).astype(np.int64)
        return num_samples - fresh, fresh

    def describe(self) -> dict:
        return {"policy": self.name, "alpha": float(self.alpha)}


POLICIES = {"replace": Replace, "accumulate": Accumulate, "fresh": Fresh}


def make_policy(name: str, **kwargs):
    """Build a policy from its registry name (``replace``, ``accumulate``, ``fresh``)."""
    if name not in POLICIES:
        raise ValueError(f"policy must be one of {sorted(POLICIES)}, got {name!r}")
    return POLICIES[name](**kwargs)


def validate_policy(policy) -> None:
    if not isinstance(policy, (Replace, Accumulate, Fresh)):
        raise ValueError(
            f"policy must be Replace(), Accumulate() or Fresh(alpha), got {policy!r}"
        )


def resolve_num_samples(num_samples, num_generations: int) -> np.ndarray:
    """Turn ``num_samples`` (int, callable ``t -> n_t`` or sequence) into ``n_t``, t = 0..T-1.

    ``n_t`` is the size of the training set drawn from generation t to fit generation t+1.
    """
    if callable(num_samples):
        values = [num_samples(t) for t in range(num_generations)]
    elif np.ndim(num_samples) == 0:
        values = [num_samples] * num_generations
    else:
        values = list(np.asarray(num_samples).ravel())
        if len(values) < num_generations:
            raise ValueError(
                f"num_samples schedule has {len(values)} entries, "
                f"need one per generation ({num_generations})"
            )
        values = values[:num_generations]
    out = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
            raise ValueError(f"num_samples must be integers, got {v!r}")
        if not math.isfinite(float(v)) or float(v) != int(v):
            raise ValueError(f"num_samples must be integers, got {v!r}")
        out.append(int(v))
    return np.asarray(out, dtype=np.int64)
