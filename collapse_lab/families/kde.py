r"""Kernel density estimation family: a generation is its training points plus a bandwidth.

Generation 0 is a Gaussian source $N(\mu_0, \Sigma_0)$. Generation t+1 is the Gaussian-kernel KDE
of $n_t$ points drawn from generation t: sampling picks one of its points uniformly and adds
kernel noise $N(0, H)$. The bandwidth is fixed ($H = h^2 I$) or a rule recomputed from each
generation's own points, $H = f^2 \hat S$ with $f = c\,m^{-1/(d+4)}$ and $\hat S$ the sample
covariance with divisor m - 1, as ``scipy.stats.gaussian_kde`` does (Scott: c = 1; Silverman:
$c = ((d+2)/4)^{-1/(d+4)}$).

Memory: the model *is* its data, so the parameters hold a static buffer of ``max_points`` points
(``[max_points, dim]`` floats per chain; ``num_samples`` must fit in it). ``Accumulate`` needs
``accumulate_capacity=C``: a ring buffer of the C most recent points (exact Accumulate while at
most C points have been drawn, a sliding window afterwards), and the model buffer then has C
slots; without it ``Accumulate`` is rejected. There is no exact law cheaper than the points
themselves (``method="sample"`` only).

Precision: points are stored as offsets from their own mean (``center``), so a collapsing cloud
keeps its relative precision however far its mean has drifted.
"""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from .._batch_invariant import dmatmul, dsum
from .._random import normals, uniforms
from .._validate import covariance_matrix, mean_vector
from ..family import AbstractFamily, key_first
from ..prediction import Prediction
from .regression import _cholesky

RULES = ("silverman", "scott")
KERNELS = ("gaussian",)


class KDEParams(eqx.Module):
    """A KDE (or, at generation 0, the Gaussian source); the scan carry."""

    center: jax.Array  # [d] mean of the points (source mean at generation 0)
    offsets: jax.Array  # [M, d] points minus center; rows >= count are zero
    count: jax.Array  # [] number of points (float); 0 at generation 0
    kernel: jax.Array  # [d, d] lower factor of the kernel covariance H (0 at generation 0)
    is_source: jax.Array  # [] bool: generation 0 draws from the Gaussian source itself
    source_mean: jax.Array  # [d] (constant)
    source_chol: jax.Array  # [d, d] Cholesky factor of the source covariance (constant)


class KDEStats(eqx.Module):
    """A set of points in a fixed-size buffer, as offsets from ``center``.

    ``weights`` are 0/1 (0: empty slot). A ring pool (``ring`` static) writes new points after
    ``cursor`` (count of points ever written), overwriting the oldest.
    """

    center: jax.Array  # [d]
    offsets: jax.Array  # [B, d]
    weights: jax.Array  # [B]
    cursor: jax.Array  # [] int32
    ring: bool = eqx.field(static=True, default=False)


def _positive_int(name, value, lo=1):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < lo:
        raise ValueError(f"{name} must be an integer >= {lo}, got {value!r}")
    return int(value)


def _ncdf(x):
    return 0.5 * lax.erfc(-x * (1.0 / math.sqrt(2.0)))


class KDE(AbstractFamily):
    """Self-consuming Gaussian-kernel density estimation (1-D or d-D).

    Args:
        bandwidth: a fixed bandwidth h > 0 (kernel $h^2 I$), or ``"silverman"`` / ``"scott"``
            (a rule recomputed from every generation's points).
        dim: dimension d >= 1.
        kernel: ``"gaussian"`` (the only kernel).
        max_points: static buffer size of a model's points (>= every ``num_samples``).
        accumulate_capacity: ring-buffer size for ``Accumulate`` (None rejects it); when set,
            the model buffer has this many slots instead of ``max_points``.
        bandwidth_scale: multiplies a rule's constant c (> 0; e.g. 0.2 makes Silverman's rule
            collapse, theory/kde.md#k2). Must be 1 for a fixed bandwidth.
    """

    bandwidth: float | str = eqx.field(static=True)
    dim: int = eqx.field(static=True)
    kernel: str = eqx.field(static=True)
    max_points: int = eqx.field(static=True)
    accumulate_capacity: int | None = eqx.field(static=True)
    bandwidth_scale: float = eqx.field(static=True)

    has_exact = False
    # merge concatenates point sets (or overwrites a ring): a pool of w generations' statistics
    # (Window) or a reused real set (FixedReal) would change shape, so those policies refuse
    fixed_shape_stats = False
    def __init__(self, bandwidth="silverman", dim: int = 1, kernel: str = "gaussian",
                 max_points: int = 1000, accumulate_capacity: int | None = None,
                 bandwidth_scale: float = 1.0):
        if isinstance(bandwidth, str):
            if bandwidth not in RULES:
                raise ValueError(f"bandwidth must be > 0 or one of {RULES}, got {bandwidth!r}")
        else:
            ok = not isinstance(bandwidth, bool) and isinstance(
                bandwidth, (int, float, np.integer, np.floating))
            if not ok or not math.isfinite(float(bandwidth)) or float(bandwidth) <= 0:
                raise ValueError(f"bandwidth must be a finite number > 0 or one of {RULES}, "
                                 f"got {bandwidth!r}")
            bandwidth = float(bandwidth)
        self.dim = _positive_int("dim", dim)
        if kernel not in KERNELS:
            raise ValueError(f"kernel must be one of {KERNELS}, got {kernel!r}")
        self.max_points = _positive_int("max_points", max_points, 2)
        if accumulate_capacity is not None:
            accumulate_capacity = _positive_int("accumulate_capacity", accumulate_capacity, 2)
        s = bandwidth_scale
        if isinstance(s, bool) or not isinstance(s, (int, float, np.integer, np.floating)) or (
                not math.isfinite(float(s)) or float(s) <= 0):
            raise ValueError(f"bandwidth_scale must be a finite number > 0, got {s!r}")
        if not isinstance(bandwidth, str) and float(s) != 1.0:
            raise ValueError("bandwidth_scale applies to a rule; give a fixed bandwidth directly")
        self.bandwidth = bandwidth
        self.kernel = kernel
        self.accumulate_capacity = accumulate_capacity
        self.bandwidth_scale = float(s)

    @property
    def name(self) -> str:
        return "kde"

    @property
    def buffer_size(self) -> int:
        """Slots of a model's point buffer (``accumulate_capacity`` if set, else max_points)."""
        return self.accumulate_capacity or self.max_points

    @property
    def rule_constant(self) -> float | None:
        """c of the rule $f = c\\,m^{-1/(d+4)}$ (scale included), or None for a fixed h."""
        if not isinstance(self.bandwidth, str):
            return None
        d = self.dim
        base = 1.0 if self.bandwidth == "scott" else ((d + 2) / 4.0) ** (-1.0 / (d + 4))
        return base * self.bandwidth_scale

    def describe(self) -> dict:
        return {"family": self.name, "bandwidth": self.bandwidth, "dim": self.dim,
                "kernel": self.kernel, "max_points": self.max_points,
                "accumulate_capacity": self.accumulate_capacity,
                "bandwidth_scale": self.bandwidth_scale}

    # ------------------------------------------------------------------------------ source
    @key_first
    def source(self, mean=0.0, cov=1.0) -> KDEParams:
        """Generation 0: the Gaussian $N(\\mu_0, \\Sigma_0)$ (variance if dim = 1).

        Raises:
            ValueError: naming ``mean`` or ``cov`` (shape, not finite, not positive definite).
        """
        d = self.dim
        mean_np = mean_vector("mean", mean, d)
        cov_np, chol = covariance_matrix("cov", cov, d)
        dt = jnp.result_type(float)
        m = self.buffer_size
        return KDEParams(
            center=jnp.asarray(mean_np, dt),
            offsets=jnp.zeros((m, d), dt),
            count=jnp.zeros((), dt),
            kernel=jnp.zeros((d, d), dt),
            is_source=jnp.asarray(True),
            source_mean=jnp.asarray(mean_np, dt),
            source_chol=jnp.asarray(chol, dt),
        )

    def check_source(self, source) -> KDEParams:
        if not isinstance(source, KDEParams):
            raise ValueError(f"source must come from KDE.source(mean, cov), got "
                             f"{type(source).__name__}")
        if source.offsets.shape != (self.buffer_size, self.dim):
            raise ValueError(
                f"source buffer has shape {source.offsets.shape}, this family needs "
                f"({self.buffer_size}, {self.dim}): build it with this family's source()")
        return source

    def validate_num_samples(self, num_samples) -> None:
        n = np.asarray(num_samples)
        lo = 2 if self.dim == 1 or not isinstance(self.bandwidth, str) else self.dim + 1
        if np.any(n < lo):
            raise ValueError(f"num_samples must be >= {lo}, got min {int(n.min())}")
        if int(n.max()) > self.buffer_size:
            raise ValueError(
                f"num_samples ({int(n.max())}) must not exceed the point buffer "
                f"({self.buffer_size}: max_points or accumulate_capacity)")

    def validate_policy(self, policy) -> None:
        if getattr(policy, "accumulate", False) and self.accumulate_capacity is None:
            raise ValueError(
                "policy Accumulate needs KDE(..., accumulate_capacity=C): the pool is a ring "
                "buffer of the C most recent points")

    # ------------------------------------------------------------------------------ sampling
    def _draw_offsets(self, key, params, buffer_size):
        """Draws as offsets from ``params.center``, shape ``[buffer_size, d]``."""
        dt = params.center.dtype
        u = uniforms(key, buffer_size, (self.dim + 1,), dt)
        xi = normals(u[:, 1:])
        m = params.offsets.shape[0]
        idx = jnp.clip(jnp.floor(u[:, 0] * params.count).astype(jnp.int32), 0, m - 1)
        # x @ L^T with a fixed summation order (bits independent of the vmap batch size)
        kde = params.offsets[idx] + dsum(xi[:, None, :] * params.kernel[None, :, :], 2)
        src = dsum(xi[:, None, :] * params.source_chol[None, :, :], 2)
        return jnp.where(params.is_source, src, kde)

    def sample(self, key, params: KDEParams, num_samples: int) -> jax.Array:
        """Absolute samples ``[num_samples, dim]`` (the draws ``sample_stats`` makes)."""
        return params.center + self._draw_offsets(key, params, num_samples)

    def sample_stats(self, key, params, buffer_size, num_samples=None) -> KDEStats:
        dt = params.center.dtype
        off = self._draw_offsets(key, params, buffer_size)
        if num_samples is None:
            w = jnp.ones((buffer_size,), dt)
        else:
            w = (jnp.arange(buffer_size) < num_samples).astype(dt)
        return KDEStats(center=params.center, offsets=off, weights=w,
                        cursor=jnp.zeros((), jnp.int32))

    def exact_stats(self, key, params, num_samples):
        raise ValueError("the KDE family has no exact law cheaper than its points: "
                         "use method='sample'")

    # ------------------------------------------------------------------------------ pooling
    def empty_stats(self, params) -> KDEStats:
        """An empty ring pool of ``accumulate_capacity`` slots (0 slots if unset)."""
        cap = self.accumulate_capacity or 0
        dt = params.center.dtype
        return KDEStats(center=params.source_mean, offsets=jnp.zeros((cap, self.dim), dt),
                        weights=jnp.zeros((cap,), dt), cursor=jnp.zeros((), jnp.int32),
                        ring=True)

    def merge(self, a: KDEStats, b: KDEStats) -> KDEStats:
        """Union of two point sets (in ``a``'s frame); a ring ``a`` keeps the newest points."""
        shifted = b.offsets + (b.center - a.center)
        if not a.ring:
            return KDEStats(center=a.center, offsets=jnp.concatenate([a.offsets, shifted]),
                            weights=jnp.concatenate([a.weights, b.weights]),
                            cursor=jnp.zeros((), jnp.int32))
        cap = a.offsets.shape[0]
        keep = b.weights > 0
        rank = jnp.cumsum(keep.astype(jnp.int32)) - 1
        # validate_num_samples: at most `cap` points per merge, so no two land in one slot.
        slot = jnp.where(keep, (a.cursor + rank) % cap, cap)
        return KDEStats(
            center=a.center,
            offsets=a.offsets.at[slot].set(shifted, mode="drop"),
            weights=a.weights.at[slot].set(b.weights, mode="drop"),
            cursor=a.cursor + jnp.sum(keep.astype(jnp.int32)),
            ring=True,
        )

    def estimate(self, key, stats: KDEStats, params: KDEParams) -> KDEParams:
        """The KDE of the weighted points: compact them, recentre, set the bandwidth."""
        del key  # closed-form fit
        dt = params.center.dtype
        m = self.buffer_size
        keep = stats.weights > 0
        rank = jnp.cumsum(keep.astype(jnp.int32)) - 1
        slot = jnp.where(keep, rank, m)
        off = jnp.zeros((m, self.dim), dt).at[slot].set(stats.offsets, mode="drop")
        count = jnp.sum(keep.astype(jnp.int32)).astype(dt)
        valid = (jnp.arange(m) < count)[:, None]
        mean = dsum(jnp.where(valid, off, 0.0), 0) / count
        off = jnp.where(valid, off - mean, 0.0)
        if isinstance(self.bandwidth, str):
            scatter = dsum(off[:, :, None] * off[:, None, :], 0)
            f = self.rule_constant * count ** (-1.0 / (self.dim + 4))
            if self.dim == 1:
                kernel = f * jnp.sqrt(scatter / (count - 1))
            else:
                kernel = f * _cholesky(scatter / (count - 1))
        else:
            kernel = self.bandwidth * jnp.eye(self.dim, dtype=dt)
        return eqx.tree_at(
            lambda p: (p.center, p.offsets, p.count, p.kernel, p.is_source),
            params,
            (stats.center + mean, off, count, kernel, jnp.asarray(False)),
        )

    # ------------------------------------------------------------------------------ observing
    def observe(self, params: KDEParams, source: KDEParams) -> dict:
        """Observables of one model against the source.

        ``variance`` (trace of the MLE covariance of the points, divisor n; the source's trace
        at generation 0), ``log_variance``, ``mean`` (of the points = of the KDE; a vector if
        dim > 1), ``mean_drift2`` ($\\lVert m_t - \\mu_0\\rVert^2$), ``model_variance`` (trace
        of the KDE's covariance, points plus kernel), ``bandwidth`` (h in 1-D; the root mean
        kernel variance $\\sqrt{\\mathrm{tr} H/d}$ otherwise; 0 at generation 0),
        ``tail_mass_3sigma`` / ``tail_mass_5sigma`` (model probability beyond the source's
        3 / 5 sigma, averaged over coordinates for dim > 1).
        """
        del source
        cnt = jnp.maximum(params.count, 1)
        off = params.offsets
        scatter_tr = dsum(dsum(off * off, 1), 0)
        src_cov = dmatmul(params.source_chol, params.source_chol.T)
        src_tr = dsum(jnp.diagonal(src_cov), 0)
        var = jnp.where(params.is_source, src_tr, scatter_tr / cnt)
        kcov = dmatmul(params.kernel, params.kernel.T)
        k_tr = dsum(jnp.diagonal(kcov), 0)
        drift = params.center - params.source_mean
        sd0 = jnp.sqrt(jnp.diagonal(src_cov))
        ksd = jnp.sqrt(jnp.diagonal(kcov))
        valid = (jnp.arange(off.shape[0]) < params.count)[:, None]
        out = {"mean": params.center[0] if self.dim == 1 else params.center,
               "variance": var,
               "log_variance": jnp.log(var),
               "mean_drift2": dsum(drift * drift, 0),
               "model_variance": var + k_tr,
               "bandwidth": jnp.sqrt(k_tr / self.dim)}
        # Tail masses: per point and coordinate, the two-sided kernel tail beyond the source's
        # k sigma. The z-scores are formed with a reciprocal multiply and the erfc is taken over
        # a flat array, so the rounding does not depend on how chains are laid out on devices.
        inv = jnp.where(ksd > 0, 1.0 / jnp.where(ksd > 0, ksd, 1.0), 0.0)
        rel = drift[None, :] + off  # points relative to the source mean
        w = valid.astype(off.dtype) / cnt
        for k in (3, 5):
            cut = k * sd0
            z = jnp.stack([(rel - cut) * inv, (-cut - rel) * inv]).reshape(-1)
            tails = _ncdf(z).reshape((2,) + off.shape)
            kde_tail = dsum(dsum((tails[0] + tails[1]) * w, 0), 0) / self.dim
            src_tail = 2 * _ncdf(jnp.asarray(-float(k), off.dtype))
            out[f"tail_mass_{k}sigma"] = jnp.where(params.is_source, src_tail, kde_tail)
        return out

    # ------------------------------------------------------------------------------ theory
    def predictions(self, config, overrides: dict | None = None) -> list[Prediction]:
        from ._kde_predictions import kde_predictions

        return kde_predictions(self, config, overrides or {})
