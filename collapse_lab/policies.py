"""Data policies: how each generation's training set is formed (an open layer).

A policy is a small frozen dataclass (plain data, hashable, usable as a static argument). It owns

* ``split(n)`` -- the per-generation integer sample counts drawn from the current model
  (``synthetic``) and from the source (``fresh``), as NumPy arrays;
* ``init(family, params0, config)`` -- its pool state (any pytree of fixed shapes; the second half
  of the scan carry, saved with checkpoints);
* ``update(draws, params, pool) -> (stats, pool)`` -- the statistics the next generation is fit on,
  and the new pool. ``draws`` (:class:`Draws`) is the runner's view of one generation: the key,
  the counts and the family's draws (``synthetic()``, ``fresh()``, ``draw(...)``), so a policy is
  written once for every family through the family contract (``merge`` / ``empty_stats`` /
  ``sample_stats`` / ``exact_stats``, plus the optional ``subsample_stats`` and
  ``sample_points`` / ``points_stats`` hooks).

The runner (:mod:`collapse_lab.chain`) never names a policy: adding one touches this module (and
the theory) only. Policies here:

* :class:`Replace` -- generation t+1 is fit on ``n_t`` samples of model t only.
* :class:`Accumulate` -- fit on every batch drawn so far (Gerstgrasser et al. 2024), carried as
  merged sufficient statistics: O(1) memory.
* :class:`Fresh` -- each generation uses ``round(alpha * n_t)`` fresh draws from the source plus
  ``n_t - round(alpha * n_t)`` synthetic draws (Alemohammad et al. 2024, "fresh data loop").
* :class:`AccumulateSubsample` -- the pool keeps every batch; each generation fits on a subsample
  drawn without replacement from the whole pool (Schaeffer, Kazdan, Koyejo et al. 2025).
* :class:`Window` -- fit on the last ``w`` generations' data (O(w) statistics per chain).
* :class:`Refresh` -- every ``k`` generations the training set is fresh source data (or a
  ``fraction`` of it is).
* :class:`Mix` -- each of the n points is a source draw with probability ``alpha`` (per-sample
  Bernoulli mixture; theory/wright_fisher.md#x2).
* :class:`FixedReal` -- one real set of ``round(alpha * n)`` source points, drawn once and reused
  every generation, plus ``n - round(alpha * n)`` synthetic points (theory/wright_fisher.md#p5).
* :class:`Verified` -- a verifier keeps a synthetic token of category i with probability
  ``accept[i]`` (noisy verifiers: :meth:`Verified.noisy`; Feng et al. 2024).
* :class:`VerifiedBand` -- a verifier keeps a synthetic Gaussian point x iff
  ``|x - mu_0| <= c sigma_0`` (source frame): the kept points are the model truncated to the band.
* :class:`VerifiedSmooth` -- a verifier keeps a synthetic Gaussian point x with probability
  ``exp(-(x - mu_0)^2 / (2 c^2 sigma_0^2))``: the kept points are exactly Gaussian.
* :class:`Curated` -- each kept token is the best of k model draws by a reward (Ferbach et al.
  2024).
* :class:`CuratedLinear` -- each kept Gaussian point is the best of k model draws by the reward
  ``sign * x`` (the largest, or the smallest).

Filters (Verified, VerifiedBand, VerifiedSmooth, Curated, CuratedLinear) keep the training
set's size exact and static: proposals are drawn until n are kept, and since the kept tokens are
then i.i.d. from the reweighted law they are drawn from it directly (the cost, the expected
number of proposals, is not simulated).

Sample-size schedules are given through ``num_samples`` of :func:`collapse_lab.run_chains` (an int,
a callable ``t -> n_t`` or a sequence), not through the policy.

References:
    Gerstgrasser et al. (2024), arXiv 2404.01413; Alemohammad et al. (2024), ICLR, arXiv
    2307.01850; Schaeffer, Kazdan, Koyejo et al. (2025), "Collapse or Thrive? Perils and
    Promises of Synthetic Data in a Self-Generating World", arXiv 2410.16713.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ._random import fold_in

# Purpose ids folded into a generation's key (the runner's own: 0, 1, 2; policies use >= 3).
KEY_SYNTHETIC, KEY_FRESH, KEY_FIT = 0, 1, 2


def _check_fraction(name, a):
    if isinstance(a, bool) or not isinstance(a, (int, float, np.floating, np.integer)):
        raise ValueError(f"{name} must be a number in [0, 1], got {a!r}")
    if not math.isfinite(float(a)) or not 0.0 <= float(a) <= 1.0:
        raise ValueError(f"{name} must lie in [0, 1], got {a!r}")


def _check_count(name, v, lo=1, allow_none=False):
    if v is None and allow_none:
        return
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
        raise ValueError(f"{name} must be an integer >= {lo}, got {v!r}")


class Draws:
    """One generation as a policy sees it (built by the runner inside the traced step).

    Attributes:
        family: the model family; ``real_family`` draws fresh data (no sampling bias).
        source: generation-0 parameters.
        key: the generation's key (``fold_in(chain_key, t)``); use :meth:`subkey` with a purpose
            id >= 3 for a policy's own randomness (0, 1, 2 are synthetic, fresh and fit).
        t: the generation being created (traced uint32, 1-based).
        n_syn, n_fresh: this generation's counts from ``policy.split`` (traced int32).
        method: ``"sample"`` or ``"exact"``.
    """

    def __init__(self, family, real_family, plan, source, key, t, n_syn, n_fresh):
        self.family = family
        self.real_family = real_family
        self.plan = plan
        self.source = source
        self.key = key
        self.t = t
        self.n_syn = n_syn
        self.n_fresh = n_fresh
        self.method = plan.method

    def subkey(self, purpose: int):
        return fold_in(self.key, purpose, anchor=self.t)

    def _draw(self, family, key, params, buffer, masked, n):
        if self.method == "exact":
            return family.exact_stats(key, params, n)
        return family.sample_stats(key, params, buffer, n if masked else None)

    def synthetic(self, params, *, unbiased=False):
        """Statistics of ``n_syn`` draws from the model (None if the plan never draws any);
        ``unbiased=True`` draws from ``params`` without the family's sampling bias (for
        policies that pass a law already including it)."""
        p = self.plan
        if p.syn_buffer == 0:
            return None
        family = self.real_family if unbiased else self.family
        return self._draw(family, self.subkey(KEY_SYNTHETIC), params, p.syn_buffer,
                          p.syn_masked, self.n_syn)

    def fresh(self):
        """Statistics of ``n_fresh`` draws from the source (None if the plan never draws any)."""
        p = self.plan
        if p.fresh_buffer == 0:
            return None
        return self._draw(self.real_family, self.subkey(KEY_FRESH), self.source, p.fresh_buffer,
                          p.fresh_masked, self.n_fresh)

    def draw(self, key, params, count, *, real=False):
        """Statistics of a traced ``count`` of draws (at most the plan's synthetic buffer)."""
        family = self.real_family if real else self.family
        return self._draw(family, key, params, self.plan.syn_buffer, True, count)

    def training_set(self, params):
        """The synthetic draws merged with the fresh ones (the split's training set)."""
        stats = self.synthetic(params)
        real = self.fresh()
        if real is None:
            return stats
        return real if stats is None else self.family.merge(stats, real)


class Policy:
    """Base class of data policies (see the module docstring for the protocol)."""

    name = "policy"
    accumulate = False  # pool grows without bound (families with bounded buffers refuse it)
    needs_max_samples = False  # whether update reads plan.max_samples (max n_t, static)

    def split(self, num_samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per-generation (synthetic, fresh) sample counts."""
        return num_samples, np.zeros_like(num_samples)

    def buffer_sizes(self, synthetic, fresh):
        """Sizes that shape the draws' static buffers, and whether they must be masked."""
        return synthetic, fresh, False

    def kernel_policy(self):
        """The policy the compiled kernel depends on (count-only parameters may be dropped, so
        that sweeps over them share one compile)."""
        return self

    def validate(self, family, method: str, num_samples: np.ndarray) -> None:
        """Raise ``ValueError`` naming ``policy`` if it cannot run with this family / method."""
        del family, method, num_samples

    def init(self, family, params0, config) -> Any:
        """The pool at generation 0 (default: the family's empty statistics)."""
        del config
        return family.empty_stats(params0)

    def update(self, draws: Draws, params, pool):
        """``(stats to fit generation t on, new pool)``."""
        raise NotImplementedError

    def describe(self) -> dict:
        out = {"policy": self.name}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if f.type in ("float", float):
                v = float(v)  # e.g. Fresh(1) describes alpha as 1.0, as before
            elif isinstance(v, tuple):
                v = list(v)  # plain data (JSON / TOML arrays)
            out[f.name] = v
        return out


@dataclasses.dataclass(frozen=True)
class Replace(Policy):
    """Fit each generation on the previous generation's samples only."""

    name = "replace"

    def update(self, draws, params, pool):
        return draws.training_set(params), pool


@dataclasses.dataclass(frozen=True)
class Accumulate(Policy):
    """Fit each generation on all data drawn so far (sufficient statistics, O(1) memory)."""

    name = "accumulate"
    accumulate = True

    def update(self, draws, params, pool):
        pool = draws.family.merge(pool, draws.training_set(params))
        return pool, pool


@dataclasses.dataclass(frozen=True)
class Fresh(Policy):
    """A fixed fraction ``alpha`` of every training set is fresh data from the source.

    Args:
        alpha: fraction of real data in ``[0, 1]``; the real count is ``round(alpha * n_t)``.
    """

    alpha: float
    name = "fresh"

    def __post_init__(self):
        _check_fraction("alpha", self.alpha)

    def split(self, num_samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        fresh = np.rint(self.alpha * num_samples).astype(np.int64)
        return num_samples - fresh, fresh

    def kernel_policy(self):
        return Replace()  # alpha only sets the counts: one kernel for every alpha

    def update(self, draws, params, pool):
        return draws.training_set(params), pool


@dataclasses.dataclass(frozen=True)
class Refresh(Policy):
    """Every ``every`` generations (t = 1, 1 + every, 1 + 2 every, ...) the training set is fresh
    source data; in between, Replace.

    Args:
        every: refresh period k >= 1 (1: always fresh data, i.e. no self-consumption).
        fraction: share of the training set that is fresh at a refresh (1: a full restart; below
            1 a fresh batch of ``round(fraction * n)`` is mixed in).
    """

    every: int
    fraction: float = 1.0
    name = "refresh"

    def __post_init__(self):
        _check_count("every", self.every)
        _check_fraction("fraction", self.fraction)

    def split(self, num_samples):
        on = (np.arange(num_samples.size) % self.every) == 0
        fresh = np.where(on, np.rint(self.fraction * num_samples), 0).astype(np.int64)
        return num_samples - fresh, fresh

    def kernel_policy(self):
        return Replace()

    def update(self, draws, params, pool):
        return draws.training_set(params), pool


@dataclasses.dataclass(frozen=True)
class Mix(Policy):
    """Each of the n training points is a fresh source draw with probability ``alpha``, else a
    model draw: the fresh count is Binomial(n, alpha) per chain and generation (theory X2).

    Args:
        alpha: per-sample probability of a real point, in [0, 1].
    """

    alpha: float
    name = "mix"
    needs_max_samples = True

    def __post_init__(self):
        _check_fraction("alpha", self.alpha)

    def buffer_sizes(self, synthetic, fresh):
        return synthetic, synthetic, True  # either side may take all n points

    def update(self, draws, params, pool):
        n = draws.n_syn
        size = draws.plan.max_samples
        u = jax.random.uniform(draws.subkey(3), (size,))
        real = jnp.sum((u < self.alpha) & (jnp.arange(size) < n)).astype(jnp.int32)
        syn = draws.draw(draws.subkey(KEY_SYNTHETIC), params, n - real)
        fresh = draws.draw(draws.subkey(KEY_FRESH), draws.source, real, real=True)
        return draws.family.merge(syn, fresh), pool


@dataclasses.dataclass(frozen=True)
class FixedReal(Policy):
    """A fixed real set of ``round(alpha * n_0)`` source points, drawn at generation 1 and reused
    in every training set with ``n_t - round(alpha * n_0)`` model draws (theory X3).

    The pool holds the real set's statistics (O(1) memory).
    """

    alpha: float
    name = "fixed_real"

    def __post_init__(self):
        _check_fraction("alpha", self.alpha)

    def real_count(self, num_samples) -> int:
        return int(np.rint(self.alpha * num_samples[0]))

    def split(self, num_samples):
        real = self.real_count(num_samples)
        return num_samples - real, np.full_like(num_samples, real)

    def validate(self, family, method, num_samples):
        _require_fixed_stats(self, family)
        real = self.real_count(num_samples)
        if np.any(num_samples < real):
            raise ValueError(
                f"policy FixedReal(alpha={self.alpha}): every n_t must be >= the real set's size "
                f"{real}")

    def kernel_policy(self):
        return FixedReal(0.0)  # the count is data; one kernel for every alpha

    def update(self, draws, params, pool):
        first = draws.t == 1
        real = draws.fresh()
        syn = draws.synthetic(params)
        if real is None:
            return syn, pool
        keep = jax.tree_util.tree_map(lambda a, b: jnp.where(first, a, b), real, pool)
        stats = keep if syn is None else draws.family.merge(syn, keep)
        return stats, keep


@dataclasses.dataclass(frozen=True)
class Window(Policy):
    """Fit each generation on the last ``w`` generations' data (a ring of w batch statistics).

    ``Window(1)`` is Replace. Needs statistics of a fixed shape (every family but the EM mixture
    and the transformer, whose statistics are data buffers).
    """

    w: int
    name = "window"

    def __post_init__(self):
        _check_count("w", self.w)

    def validate(self, family, method, num_samples):
        _require_fixed_stats(self, family)

    def init(self, family, params0, config):
        empty = family.empty_stats(params0)
        return jax.tree_util.tree_map(
            lambda x: jnp.broadcast_to(x, (self.w,) + jnp.shape(x)), empty)

    def update(self, draws, params, pool):
        batch = draws.training_set(params)
        slot = (draws.t.astype(jnp.int32) - 1) % self.w
        pool = jax.tree_util.tree_map(
            lambda r, b: jax.lax.dynamic_update_index_in_dim(r, b, slot, 0), pool, batch)
        stats = jax.tree_util.tree_map(lambda r: r[0], pool)
        for j in range(1, self.w):
            stats = draws.family.merge(stats, jax.tree_util.tree_map(lambda r, j=j: r[j], pool))
        return stats, pool


def _require_fixed_stats(policy, family):
    if getattr(family, "fixed_shape_stats", True) is False:
        raise ValueError(
            f"policy {policy!r} needs fixed-shape mergeable statistics; the {family.name} family "
            "(in this configuration) keeps a data buffer instead")


@dataclasses.dataclass(frozen=True)
class AccumulateSubsample(Policy):
    """Accumulate every batch in the pool; fit each generation on ``size`` points drawn without
    replacement from the whole pool (Schaeffer, Kazdan, Koyejo et al. 2025).

    Two implementations, chosen by what the family offers:

    * count families (categorical, n-gram fixed counts): the pool is the merged counts (O(K)
      memory) and the subsample is drawn from them exactly (``family.subsample_stats``:
      sequential draws without replacement through a sum tree over the counts, O(K + size log K)
      work);
    * families with point buffers (Gaussian, EM mixtures): the pool is a static buffer of every
      point drawn, ``num_generations x n`` points per chain (``num_chains x num_generations x n x
      dim`` floats in all, e.g. 20,000 chains x 100 generations x n = 10 x 4 bytes = 80 MB),
      subsampled by random priorities; EM then runs on the subsample.

    Args:
        size: subsample size m (default 0: ``n_t``, the generation's sample size; 0 rather
            than None so that experiment files, which have no null, can spell the default).
    """

    size: int = 0
    name = "accumulate_subsample"
    accumulate = True
    needs_max_samples = True

    def __post_init__(self):
        _check_count("size", self.size, lo=0)

    def validate(self, family, method, num_samples):
        if self.size > int(num_samples[0]):
            raise ValueError(
                f"policy AccumulateSubsample(size={self.size}) needs size <= n_0 = "
                f"{int(num_samples[0])} (the pool holds n_0 points after generation 1)")
        if getattr(family, "has_subsample", False):
            return
        if getattr(family, "has_points", False):
            if method != "sample":
                raise ValueError(
                    f"policy AccumulateSubsample on the {family.name} family keeps a buffer of "
                    "drawn points: use method='sample'")
            return
        raise ValueError(
            f"policy AccumulateSubsample is not available for the {family.name} family: it needs "
            "subsample_stats (count families) or sample_points / points_stats (point buffers)")

    def _max_size(self, draws):
        return self.size if self.size else int(draws.plan.max_samples)

    def init(self, family, params0, config):
        if getattr(family, "has_subsample", False):
            return family.empty_stats(params0)
        n = int(np.max(config.num_samples))
        shape = jax.eval_shape(lambda: family.sample_points(jax.random.key(0), params0, n))
        rows = config.num_generations * n
        return (jnp.zeros((rows,) + shape.shape[1:], shape.dtype), jnp.zeros((rows,), bool))

    def update(self, draws, params, pool):
        family = draws.family
        m = self.size if self.size else draws.n_syn
        if getattr(family, "has_subsample", False):
            pool = family.merge(pool, draws.training_set(params))
            return family.subsample_stats(draws.subkey(3), pool, m, self._max_size(draws)), pool
        points, filled = pool
        n = draws.plan.syn_buffer
        new = family.sample_points(draws.subkey(KEY_SYNTHETIC), params, n)
        start = (draws.t.astype(jnp.int32) - 1) * n
        valid = jnp.arange(n) < draws.n_syn
        points = jax.lax.dynamic_update_slice_in_dim(points, new, start, 0)
        filled = jax.lax.dynamic_update_slice_in_dim(filled, valid, start, 0)
        # m uniform priorities among the filled slots: a uniform subset without replacement.
        u = jax.random.uniform(draws.subkey(3), filled.shape, points.dtype)
        _, idx = jax.lax.top_k(jnp.where(filled, -u, -2.0), self._max_size(draws))
        mask = jnp.arange(idx.shape[0]) < m
        return family.points_stats(points[idx], mask), (points, filled)


@dataclasses.dataclass(frozen=True)
class Verified(Policy):
    r"""A verifier between sampling and fitting: a synthetic token of category i is kept with
    probability ``accept[i]``; proposals are drawn until n are kept (categorical family).

    Static shapes: the n kept tokens are i.i.d. from the reweighted law
    $a_i p_i/\sum_j a_j p_j$, so they are drawn from it directly; the expected number of
    proposals, $n/\sum_j a_j p_j$, is the cost (not simulated). Fresh data is not filtered.
    :meth:`noisy` builds the noisy verifier of Feng et al. (2024) from a set of correct
    categories and false-accept / false-reject rates.

    Args:
        accept: per-category acceptance probabilities (a tuple of K numbers in [0, 1], not all 0).

    References:
        Feng et al. (2024), "Beyond Model Collapse: Scaling Up with Synthesized Data Requires
        Verification", arXiv 2406.07515.
    """

    accept: tuple
    name = "verified"

    def __post_init__(self):
        try:
            a = np.asarray(self.accept, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(
                f"accept must be a sequence of probabilities, got {self.accept!r}") from None
        if a.ndim != 1 or a.size < 2 or not np.all(np.isfinite(a)) or np.any(a < 0) \
                or np.any(a > 1) or not np.any(a > 0):
            raise ValueError(f"accept must hold K >= 2 probabilities in [0, 1], not all 0, "
                             f"got {self.accept!r}")
        object.__setattr__(self, "accept", tuple(float(v) for v in a))

    @staticmethod
    def noisy(correct, phi: float, psi: float) -> Verified:
        r"""Verifier that keeps a correct category with probability $1-\psi$ (false reject
        $\psi$) and an incorrect one with probability $\phi$ (false accept)."""
        _check_fraction("phi", phi)
        _check_fraction("psi", psi)
        c = np.asarray(correct, dtype=bool)
        return Verified(tuple(np.where(c, 1.0 - psi, phi)))

    def validate(self, family, method, num_samples):
        if not hasattr(family, "reweighted_stats"):
            raise ValueError(f"policy Verified is not available for the {family.name} family "
                             "(per-category acceptance needs the categorical family)")
        k = getattr(family, "vocab_size", None)
        if k != len(self.accept):
            raise ValueError(f"policy Verified: accept has {len(self.accept)} entries, the "
                             f"family has {k} categories")

    def update(self, draws, params, pool):
        accept = np.asarray(self.accept)
        return _reweighted(draws, params, lambda p: p * jnp.asarray(accept, p.dtype)), pool


@dataclasses.dataclass(frozen=True)
class VerifiedBand(Policy):
    r"""A band verifier for the Gaussian family (dim 1): a synthetic point x is kept iff
    $|x - \mu_0| \le c\,\sigma_0$ ($\mu_0, \sigma_0$ the source's); proposals are drawn until
    n are kept.

    Static shapes: the n kept points are i.i.d. from the model $N(\mu_t, \lambda\sigma_t^2)$
    truncated to the band, so they are drawn from that law directly, by inverse CDF in the model's
    standardised frame: with $a, b$ the band's ends there, $z = \Phi^{-1}(\Phi(a) + u(\Phi(b) -
    \Phi(a)))$, evaluated through the upper tail ($-\Phi^{-1}$ of the complementary
    probability) when that probability exceeds 1/2, so neither tail loses accuracy. The expected
    number of proposals, $n/(\Phi(b) - \Phi(a))$, is the cost (not simulated). Fresh data is not
    filtered. The training set's statistics are computed from the n truncated draws in both
    methods: a truncated normal sample's mean and scatter have no closed joint law, so
    ``method="exact"`` draws the n points too (O(n) per generation, same law as
    ``method="sample"``). Theory: theory/gaussian.md#p8 (one-step map, exact at generation 1).

    Once a model's mean lies inside the band (every model after the first: a mean of kept points
    does), $a \le 0 \le b$ and the inversion is accurate at any scale. dim > 1 is refused (a
    ``ValueError`` from ``validate``; the radial band would need the truncated chi law).

    Args:
        c: half-width of the band in source standard deviations (a finite number > 0).

    References:
        Feng et al. (2024), "Beyond Model Collapse: Scaling Up with Synthesized Data Requires
        Verification", arXiv 2406.07515 (verifier-filtered synthetic data).
    """

    c: float
    name = "verified_band"
    needs_max_samples = True

    def __post_init__(self):
        c = self.c
        if isinstance(c, bool) or not isinstance(c, (int, float, np.floating, np.integer)) \
                or not math.isfinite(float(c)) or float(c) <= 0:
            raise ValueError(f"c must be a finite number > 0, got {c!r}")
        object.__setattr__(self, "c", float(c))

    def validate(self, family, method, num_samples):
        if getattr(family, "name", None) != "gaussian" or not hasattr(family, "truncated_stats"):
            raise ValueError(f"policy VerifiedBand is not available for the {family.name} family "
                             "(it filters Gaussian points)")
        if family.dim != 1:
            raise ValueError(f"policy VerifiedBand needs a Gaussian of dim 1, got dim {family.dim}")

    def update(self, draws, params, pool):
        # A buffer of max n_t points on both paths (the exact plan has no sample buffer).
        size = int(draws.plan.max_samples)
        masked = draws.plan.syn_masked or draws.method == "exact"
        kept = draws.family.truncated_stats(draws.subkey(KEY_SYNTHETIC), params, self.c, size,
                                            draws.n_syn if masked else None)
        real = draws.fresh()
        return (kept if real is None else draws.family.merge(kept, real)), pool


def _check_positive_number(name, v):
    if isinstance(v, bool) or not isinstance(v, (int, float, np.floating, np.integer)) \
            or not math.isfinite(float(v)) or float(v) <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {v!r}")
    return float(v)


def _require_gaussian_1d(policy, family, what):
    if getattr(family, "name", None) != "gaussian" or not hasattr(family, what):
        raise ValueError(f"policy {type(policy).__name__} is not available for the "
                         f"{family.name} family (it filters Gaussian points)")
    if family.dim != 1:
        raise ValueError(f"policy {type(policy).__name__} needs a Gaussian of dim 1, got dim "
                         f"{family.dim}")


@dataclasses.dataclass(frozen=True)
class VerifiedSmooth(Policy):
    r"""A smooth verifier for the Gaussian family (dim 1): a synthetic point x is kept with
    probability $a(x) = \exp(-(x-\mu_0)^2/(2c^2\sigma_0^2))$ ($\mu_0, \sigma_0$ the
    source's); proposals are drawn until n are kept.

    Because the acceptance is a Gaussian kernel, the kept law is exactly Gaussian: in the
    source-standardised frame, with the model sampling $N(m, v)$ ($v = \lambda\sigma_t^2$
    at temperature $\lambda$), the kept points are $N(m', v')$ with $1/v' = 1/v + 1/c^2$ and
    $m' = m v'/v$. Both methods therefore draw from that law with the family's own machinery
    (``method="exact"``: O(1) per generation). The expected number of proposals per kept point,
    $1/E[a(X)] = \sqrt{(v + c^2)/c^2}\,e^{m^2/(2(v + c^2))}$, is the cost (not simulated).
    Fresh data is not filtered. Theory: theory/gaussian.md#p9 (the precision $1/\sigma_t^2$
    has an exact linear recursion). dim > 1 is refused (``ValueError`` from ``validate``).

    Args:
        c: width of the acceptance kernel in source standard deviations (a finite number > 0).

    References:
        Feng et al. (2024), "Beyond Model Collapse: Scaling Up with Synthesized Data Requires
        Verification", arXiv 2406.07515 (verifier-filtered synthetic data).
    """

    c: float
    name = "verified_smooth"

    def __post_init__(self):
        object.__setattr__(self, "c", _check_positive_number("c", self.c))

    def validate(self, family, method, num_samples):
        _require_gaussian_1d(self, family, "smooth_verified_params")

    def update(self, draws, params, pool):
        kept = draws.synthetic(draws.family.smooth_verified_params(params, self.c),
                               unbiased=True)
        real = draws.fresh()
        return (kept if real is None else draws.family.merge(kept, real)), pool


@dataclasses.dataclass(frozen=True)
class CuratedLinear(Policy):
    r"""Curation of Gaussian draws (dim 1) by the linear reward $r(x) = \text{sign}\cdot x$:
    each kept synthetic point is the best of ``k`` model draws (the largest for sign = +1, the
    smallest for -1); n points kept per generation.

    In the model's standardised frame a kept point is $\text{sign}\cdot M$ with M the maximum
    of k standard normals, drawn directly by inversion ($\Phi(M) = U^{1/k}$). The sample mean
    and scatter of n such points have no closed joint law, so both methods draw the n points
    (O(n) per generation). Cost: k n proposals (not simulated). Fresh data is not filtered.
    Theory: theory/gaussian.md#p10 (the spread contracts by $\lambda\frac{n-1}{n}v_k$ per
    generation while the mean moves in the reward's direction: the loop concentrates on the
    reward's maximisers, Ferbach et al. 2024).

    Args:
        k: candidates per kept point (an integer >= 1; 1 is Replace in law).
        sign: +1 (reward x) or -1 (reward -x).

    References:
        Ferbach et al. (2024), "Self-Consuming Generative Models with Curated Data Provably
        Optimize Human Preferences", arXiv 2407.09499.
    """

    k: int = 2
    sign: int = 1
    name = "curated_linear"
    needs_max_samples = True

    def __post_init__(self):
        _check_count("k", self.k)
        s = self.sign
        if isinstance(s, bool) or not isinstance(s, (int, float, np.integer, np.floating)) \
                or s not in (1, -1):
            raise ValueError(f"sign must be +1 or -1, got {s!r}")
        object.__setattr__(self, "k", int(self.k))
        object.__setattr__(self, "sign", int(s))

    def validate(self, family, method, num_samples):
        _require_gaussian_1d(self, family, "best_of_k_stats")

    def update(self, draws, params, pool):
        # A buffer of max n_t points on both paths (the exact plan has no sample buffer).
        size = int(draws.plan.max_samples)
        masked = draws.plan.syn_masked or draws.method == "exact"
        kept = draws.family.best_of_k_stats(draws.subkey(KEY_SYNTHETIC), params, self.k,
                                            self.sign, size, draws.n_syn if masked else None)
        real = draws.fresh()
        return (kept if real is None else draws.family.merge(kept, real)), pool


def _reweighted(draws, params, reweight):
    p = draws.plan
    kept = draws.family.reweighted_stats(draws.subkey(KEY_SYNTHETIC), params, reweight,
                                         p.syn_buffer, draws.n_syn, draws.method == "exact")
    real = draws.fresh()
    return kept if real is None else draws.family.merge(kept, real)


def best_of_k(p, reward, k: int):
    r"""Law of the best of k i.i.d. draws from ``p`` by ``reward`` (ties broken uniformly):
    $c_i = \frac{p_i}{p_{G(i)}}\big(F_{\le}(r_i)^k - F_{<}(r_i)^k\big)$ with $F_{\le}(r) =
    \sum_{j: r_j \le r} p_j$ and $G(i)$ the categories of reward $r_i$. O(K^2) (traceable)."""
    r = jnp.asarray(reward, p.dtype)
    le = (r[None, :] <= r[:, None]).astype(p.dtype) @ p
    lt = (r[None, :] < r[:, None]).astype(p.dtype) @ p
    group = le - lt
    return jnp.where(group > 0, p / jnp.where(group > 0, group, 1.0) * (le**k - lt**k), 0.0)


@dataclasses.dataclass(frozen=True)
class Curated(Policy):
    """Curation by a reward: each kept synthetic token is the best of ``k`` model draws by
    ``reward`` (ties uniform), n tokens kept per generation (categorical family).

    The kept tokens are i.i.d. from the best-of-k law (:func:`best_of_k`), drawn directly, so the
    training set has exactly n tokens (cost: k n proposals). Ferbach et al. (2024) show such
    curated self-consuming loops concentrate on the reward's maximisers.

    Args:
        reward: per-category rewards (K numbers).
        k: candidates per kept token (k >= 1; 1 is Replace).

    References:
        Ferbach et al. (2024), "Self-Consuming Generative Models with Curated Data Provably
        Optimize Human Preferences", arXiv 2407.09499.
    """

    reward: tuple
    k: int = 2
    name = "curated"

    def __post_init__(self):
        try:
            r = np.asarray(self.reward, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"reward must be a sequence of numbers, got {self.reward!r}") from None
        if r.ndim != 1 or r.size < 2 or not np.all(np.isfinite(r)):
            raise ValueError(f"reward must hold K >= 2 finite numbers, got {self.reward!r}")
        _check_count("k", self.k)
        object.__setattr__(self, "reward", tuple(float(v) for v in r))

    def validate(self, family, method, num_samples):
        if not hasattr(family, "reweighted_stats"):
            raise ValueError(f"policy Curated is not available for the {family.name} family "
                             "(per-category rewards need the categorical family)")
        if getattr(family, "vocab_size", None) != len(self.reward):
            raise ValueError(f"policy Curated: reward has {len(self.reward)} entries, the "
                             f"family has {family.vocab_size} categories")

    def update(self, draws, params, pool):
        reward = np.asarray(self.reward)
        return _reweighted(draws, params, lambda p: best_of_k(p, reward, self.k)), pool


POLICIES = {
    "replace": Replace,
    "accumulate": Accumulate,
    "fresh": Fresh,
    "accumulate_subsample": AccumulateSubsample,
    "window": Window,
    "refresh": Refresh,
    "mix": Mix,
    "fixed_real": FixedReal,
    "verified": Verified,
    "curated": Curated,
    "verified_band": VerifiedBand,
    "verified_smooth": VerifiedSmooth,
    "curated_linear": CuratedLinear,
}


def default_policy() -> Policy:
    """The policy of a run that names none: :class:`Replace`."""
    return Replace()


def make_policy(name: str, **kwargs):
    """Build a policy from its registry name (a key of ``POLICIES``) and its arguments."""
    if name not in POLICIES:
        raise ValueError(f"policy must be one of {sorted(POLICIES)}, got {name!r}")
    return POLICIES[name](**kwargs)


def validate_policy(policy) -> None:
    if not isinstance(policy, Policy):
        raise ValueError(
            f"policy must be a collapse_lab policy ({', '.join(sorted(POLICIES))}), "
            f"got {policy!r}"
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
